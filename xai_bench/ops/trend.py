"""The trend across runs: each gated metric over the last N MLflow runs, against its baseline and band.

``write_trend(out_dir, last=N)`` reads the last ``N`` benchmark runs of the MLflow experiment
(parent runs logged by :mod:`xai_bench.ops.tracking`, newest by start time; each run's
``metrics.json`` artifact via ``mlflow_store.read_run_metrics``), and for every model x dataset x
method x metric that has a gate rule (:mod:`xai_bench.ops.thresholds`) draws the run means
over time (the run's ``created`` time) with

- the **baseline** mean (``configs/baseline/metrics.json`` by default, or any run the gate
  accepts: a folder, a metrics.json or ``mlflow:<id>``);
- the **tolerance band**: the values the gate tolerates, from the baseline to the limit
  ``baseline -/+ tolerance`` on the worse side, where tolerance is the rule's ``max_abs_drop``
  or ``max_rel_drop`` x |baseline| (the smaller when both are given), as the gate computes it
  (the gate judges the paired per-prompt differences; the band shows the same tolerance on the
  means); ``min_value`` / ``max_value`` as lines;
- the **warning line** at ``warn_share`` of the tolerance (:data:`drift_alert.WARN_SHARE`).

It writes ``trend.html`` (self-contained: inline CSS, figures as PNG ``data:`` URIs, all text
escaped) and ``trend.png`` (the overview: per metric, every cell's worsening in units of its
tolerance, 0 = baseline, 1 = the limit). ``xai-bench trend`` and the DAG's ``trend`` task call it.

Where: ``tracking_uri`` argument, else ``$MLFLOW_TRACKING_URI``, else the project-local store
(``mlflow_store.default_tracking_uri``); experiment ``mlflow_store.EXPERIMENT_NAME`` unless told.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .drift_alert import WARN_SHARE
from .runfolder import load_metrics, metrics_cells
from .thresholds import DROP_KEYS, Thresholds, load_thresholds
from ..benchmark.rundir import write_text
from ..errors import XaiBenchError
from ..explain.heatmap import _esc as esc
from ..paths import REPO_ROOT

__all__ = ["DEFAULT_BASELINE", "DEFAULT_LAST", "Series", "TrendError", "TrendPages", "TrendRun", "build_series",
           "publish_trend", "read_runs", "write_trend"]

DEFAULT_LAST = 10
DEFAULT_BASELINE = REPO_ROOT / "configs" / "baseline" / "metrics.json"
_SUFFIXES = ("_n", "_min", "_max", "_ci_low", "_ci_high")
_DPI = 96


class TrendError(XaiBenchError):
    """The runs cannot be read for a trend (no experiment, no runs); the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class TrendRun:
    """One benchmark run read back from MLflow."""

    mlflow_run_id: str
    run_id: str
    created: dt.datetime
    results: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Series:
    """One gated metric of one model x dataset x method over the runs (``values[i]`` None = absent)."""

    model: str
    dataset: str
    method: str
    metric: str
    direction: str | None
    times: list[dt.datetime]
    values: list[float | None]
    run_ids: list[str]
    baseline: float | None = None
    rule: dict[str, float] = field(default_factory=dict)

    @property
    def tolerance(self) -> float | None:
        """The gate's tolerance on this metric's mean (None without a baseline or a drop rule)."""
        if self.baseline is None or self.direction is None:
            return None
        tols = [self.rule[k] * (abs(self.baseline) if k == "max_rel_drop" else 1.0) for k in DROP_KEYS
                if k in self.rule]
        return min(tols) if tols else None

    def worse(self, value: float) -> float | None:
        """``value``'s worsening from the baseline in units of the tolerance (0 = baseline, 1 = limit)."""
        tol = self.tolerance
        if tol is None or self.baseline is None:
            return None
        sign = 1.0 if self.direction == "higher" else -1.0
        gap = sign * (self.baseline - value)
        return gap / tol if tol > 0 else (0.0 if gap <= 0 else math.inf)

    def status(self, warn_share: float = WARN_SHARE) -> str:
        """Of the latest value: ``beyond`` (past the limit or a min/max bound), ``warning``, ``ok``,
        ``no baseline`` or ``no value``."""
        last = next((v for v in reversed(self.values) if v is not None), None)
        if last is None:
            return "no value"
        if ("min_value" in self.rule and last < self.rule["min_value"]) or \
                ("max_value" in self.rule and last > self.rule["max_value"]):
            return "beyond"
        w = self.worse(last)
        if w is None:
            return "no baseline" if self.baseline is None else "ok"
        return "beyond" if w > 1 + 1e-9 else "warning" if w > warn_share else "ok"

    @property
    def label(self) -> str:
        return f"{self.model} | {self.dataset} | {self.method}"


def _created(doc: dict[str, Any], run: Any) -> dt.datetime:
    text = (doc.get("run") or {}).get("created")
    if text:
        try:
            t = dt.datetime.fromisoformat(str(text))
            return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=dt.timezone.utc)


def read_runs(last: int = DEFAULT_LAST, *, tracking_uri: str | None = None, experiment: str | None = None
              ) -> list[TrendRun]:
    """The last ``last`` benchmark runs (complete parent runs) of the experiment, oldest first."""
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise ValueError(f"The 'last' parameter must be an int >= 1. Got {last!r} instead.")
    from mlflow import MlflowClient

    from .mlflow_store import EXPERIMENT_NAME, read_run_metrics, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    name = experiment or EXPERIMENT_NAME
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        raise TrendError(f"MLflow experiment {name!r} not found at {uri}: log a run first "
                         "(`xai-bench run --record` or the xai_benchmark DAG), or pass --tracking-uri/--experiment.")
    parents = client.search_runs([exp.experiment_id], filter_string="tags.`xai_bench.role` = 'parent'",
                                 order_by=["attributes.start_time DESC"], max_results=last)
    if not parents:
        raise TrendError(f"MLflow experiment {name!r} at {uri} has no finished benchmark run to draw.")
    runs = []
    for p in parents:
        doc = read_run_metrics(p.info.run_id, uri)
        runs.append(TrendRun(mlflow_run_id=p.info.run_id, run_id=str((doc.get("run") or {}).get("run_id", "")),
                             created=_created(doc, p), results=doc.get("results", {})))
    return sorted(runs, key=lambda r: r.created)


def _is_extra(metric: str, metrics: dict[str, Any]) -> bool:
    return any(metric.endswith(s) and metric[: -len(s)] in metrics for s in _SUFFIXES)


def build_series(runs: list[TrendRun], baseline: dict[str, Any] | None, thresholds: Thresholds) -> list[Series]:
    """One :class:`Series` per model x dataset x method x metric with a gate rule, in first-seen order."""
    base_cells = metrics_cells(baseline) if baseline else {}
    keys: dict[tuple[str, str, str, str], None] = {}
    for run in runs:
        for cell, metrics in metrics_cells(run.results).items():
            for metric in metrics:
                if not _is_extra(metric, metrics) and thresholds.rule_for(*cell, metric):
                    keys[(*cell, metric)] = None
    out = []
    for model, dataset, method, metric in keys:
        values = []
        for run in runs:
            v = metrics_cells(run.results).get((model, dataset, method), {}).get(metric)
            values.append(float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None)
        base = base_cells.get((model, dataset, method), {}).get(metric)
        out.append(Series(model=model, dataset=dataset, method=method, metric=metric,
                          direction=thresholds.direction(metric), times=[r.created for r in runs], values=values,
                          run_ids=[r.run_id for r in runs], rule=thresholds.rule_for(model, dataset, method, metric),
                          baseline=float(base) if isinstance(base, (int, float)) else None))
    return out


def _figure_uri(fig: Any) -> tuple[str, bytes]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), data


def _axes(fig: Any, n: int, ncols: int) -> list[Any]:
    nrows = max(1, math.ceil(n / ncols))
    grid = fig.subplots(nrows, ncols, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        ax.set_axis_off()
    return axes[:n]


def _date_axis(ax: Any, times: list[dt.datetime]) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if times and min(times) == max(times):  # one run (or runs at one instant): an hour either side
        ax.set_xlim(times[0] - dt.timedelta(hours=1), times[0] + dt.timedelta(hours=1))

    locator = AutoDateLocator(maxticks=5)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.tick_params(labelsize=7)


def _overview(series: list[Series], warn_share: float) -> Any:
    """Per metric, every cell's worsening in units of its tolerance."""
    from matplotlib.figure import Figure

    banded = [s for s in series if s.tolerance is not None]
    metrics = list(dict.fromkeys(s.metric for s in banded)) or ["(no metric with a baseline and a drop rule)"]
    ncols = min(3, len(metrics))
    fig = Figure(figsize=(4.4 * ncols, 2.9 * math.ceil(len(metrics) / ncols) + 1.2), layout="constrained")
    labels = list(dict.fromkeys(s.label for s in banded))
    colours = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}
    for ax, metric in zip(_axes(fig, len(metrics), ncols), metrics):
        top = 1.5
        for s in (s for s in banded if s.metric == metric):
            pts = [(t, s.worse(v)) for t, v in zip(s.times, s.values) if v is not None]
            pts = [(t, min(w, 5.0)) for t, w in pts if w is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1, color=colours[s.label])
                top = max(top, max(p[1] for p in pts) + 0.2)
        ax.axhspan(warn_share, 1.0, color="#f0a020", alpha=0.15, lw=0)
        ax.axhspan(1.0, top, color="#d03030", alpha=0.12, lw=0)
        ax.axhline(0.0, color="#222", lw=0.8, ls="--")
        ax.set_ylim(min(-1.0, ax.get_ylim()[0]), top)
        ax.set_title(metric, fontsize=9)
        ax.set_ylabel("worse / tolerance", fontsize=7)
        _date_axis(ax, [t for s in banded for t in s.times])
    if labels:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colours[lab], marker="o", ms=3, lw=1) for lab in labels]
        fig.legend(handles, ["\n".join(textwrap.wrap(lab, 48)) for lab in labels], loc="outside lower center",
                   ncols=min(3, len(labels)), fontsize=7, frameon=False)
    fig.suptitle(f"Gated metrics over the last runs: 0 = baseline, 1 = tolerance limit (amber: past {warn_share:g} "
                 "of the tolerance, red: past the limit)", fontsize=10)
    return fig


def _metric_figure(group: list[Series], warn_share: float) -> Any:
    """One panel per cell: the run means, the baseline, the tolerated band, the warning line, min/max."""
    from matplotlib.figure import Figure

    ncols = min(4, len(group))
    fig = Figure(figsize=(3.4 * ncols, 2.5 * math.ceil(len(group) / ncols)), layout="constrained")
    for ax, s in zip(_axes(fig, len(group), ncols), group):
        pts = [(t, v) for t, v in zip(s.times, s.values) if v is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1, color="C0")
        tol = s.tolerance
        if s.baseline is not None:
            ax.axhline(s.baseline, color="#222", lw=0.8, ls="--")
        if tol is not None and s.baseline is not None:
            sign = -1.0 if s.direction == "higher" else 1.0
            limit, warn = s.baseline + sign * tol, s.baseline + sign * warn_share * tol
            ax.axhspan(min(s.baseline, limit), max(s.baseline, limit), color="#2e7d32", alpha=0.12, lw=0)
            ax.axhline(warn, color="#f0a020", lw=0.8, ls=":")
            ax.axhline(limit, color="#d03030", lw=0.9)
        for key, colour in (("min_value", "#7b1fa2"), ("max_value", "#7b1fa2")):
            if key in s.rule:
                ax.axhline(s.rule[key], color=colour, lw=0.8, ls="-.")
        ax.set_title("\n".join(textwrap.wrap(s.label, 38)), fontsize=7.5)
        _date_axis(ax, s.times)
    return fig


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1180px;margin:0 auto;padding:1.2em 1.5em}
h1{font-size:1.5em} h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
p,li{overflow-wrap:anywhere}
img{display:block;max-width:100%;height:auto;margin:.4em 0}
table{border-collapse:collapse;width:100%;font-size:13px;margin:.3em 0 .8em}
th,td{border:1px solid #ccc;padding:3px 5px;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f2f2f2;text-align:left} td.num{text-align:right}
.s-beyond{background:#fbe3e3}.s-warning{background:#fdf1d8}
code{overflow-wrap:anywhere}
"""


def _page(series: list[Series], runs: list[TrendRun], overview_uri: str, baseline_name: str, thresholds: Thresholds,
          warn_share: float) -> str:
    title = f"xai-bench trend: last {len(runs)} run(s)"
    counts: dict[str, int] = {}
    for s in series:
        counts[s.status(warn_share)] = counts.get(s.status(warn_share), 0) + 1
    parts = [f"<h1>{esc(title)}</h1>",
             f"<p>Runs from {esc(runs[0].created.isoformat())} to {esc(runs[-1].created.isoformat())}; baseline "
             f"<code>{esc(baseline_name)}</code>; thresholds <code>{esc(thresholds.source)}</code>. Latest values: "
             + (", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items())) or "no gated metric") + ".</p>",
             "<p>Green band: the values the gate tolerates (baseline to baseline -/+ tolerance on the worse side); "
             f"dashed: the baseline; dotted amber: {warn_share:g} of the tolerance (warning); red: the limit; "
             "dash-dot purple: min_value / max_value.</p>",
             f'<img src="{overview_uri}" alt="overview: every gated metric in units of its tolerance">',
             "<h2>Runs</h2>",
             "<table><thead><tr><th>created</th><th>run id</th><th>MLflow run</th></tr></thead><tbody>"
             + "".join(f"<tr><td>{esc(r.created.isoformat())}</td><td><code>{esc(r.run_id)}</code></td>"
                       f"<td><code>{esc(r.mlflow_run_id)}</code></td></tr>" for r in runs) + "</tbody></table>"]
    for metric in dict.fromkeys(s.metric for s in series):
        group = [s for s in series if s.metric == metric]
        uri, _ = _figure_uri(_metric_figure(group, warn_share))
        rows = "".join(
            f'<tr class="s-{esc(s.status(warn_share).replace(" ", "-"))}"><td><code>{esc(s.model)}</code></td>'
            f"<td>{esc(s.dataset)}</td><td>{esc(s.method)}</td>"
            f'<td class="num">{esc(_fmt(next((v for v in reversed(s.values) if v is not None), None)))}</td>'
            f'<td class="num">{esc(_fmt(s.baseline))}</td><td class="num">{esc(_fmt(s.tolerance))}</td>'
            f"<td>{esc(', '.join(f'{k}={v:g}' for k, v in s.rule.items()))}</td><td>{esc(s.status(warn_share))}</td>"
            "</tr>" for s in group)
        parts.append(f"<h2>{esc(metric)} ({esc(group[0].direction or '?')} is better)</h2>"
                     f'<img src="{uri}" alt="{esc(metric)} over the runs, one panel per model, data set and method">'
                     "<table><thead><tr><th>model</th><th>dataset</th><th>method</th><th>latest</th><th>baseline</th>"
                     f"<th>tolerance</th><th>rule</th><th>status</th></tr></thead><tbody>{rows}</tbody></table>")
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")


@dataclass(frozen=True, kw_only=True)
class TrendPages:
    """What :func:`write_trend` wrote, and the status of every series' latest value."""

    html: Path
    png: Path
    series: list[Series]
    runs: list[TrendRun]

    def counts(self, warn_share: float = WARN_SHARE) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.series:
            out[s.status(warn_share)] = out.get(s.status(warn_share), 0) + 1
        return out


def write_trend(out_dir: str | os.PathLike[str], *, last: int = DEFAULT_LAST,
                baseline: str | os.PathLike[str] | None = DEFAULT_BASELINE,
                thresholds: str | os.PathLike[str] | None = None, tracking_uri: str | None = None,
                experiment: str | None = None, warn_share: float = WARN_SHARE) -> TrendPages:
    """Write ``out_dir/trend.html`` and ``out_dir/trend.png`` for the last ``last`` runs (see the module docstring).

    ``baseline=None`` (or a path that does not exist) draws the values without bands.
    """
    if not 0 < warn_share <= 1:
        raise ValueError(f"The 'warn_share' parameter must be a float in the range (0, 1]. Got {warn_share!r} instead.")
    runs = read_runs(last, tracking_uri=tracking_uri, experiment=experiment)
    base_doc, base_name = None, "none"
    if baseline is not None and (str(baseline).startswith(("mlflow:", "runs:/")) or Path(baseline).exists()):
        base_doc, base_name = load_metrics(baseline), os.fspath(baseline)
    t = load_thresholds(thresholds)
    series = build_series(runs, base_doc, t)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    overview_uri, png = _figure_uri(_overview(series, warn_share))
    png_path = out / "trend.png"
    png_path.write_bytes(png)
    html_path = write_text(out / "trend.html", _page(series, runs, overview_uri, base_name, t, warn_share))
    return TrendPages(html=html_path, png=png_path, series=series, runs=runs)


def publish_trend(run_dir: str | os.PathLike[str], mlflow_run_id: str | None = None, *, last: int = DEFAULT_LAST,
                  baseline: str | os.PathLike[str] | None = DEFAULT_BASELINE,
                  thresholds: str | os.PathLike[str] | None = None, tracking_uri: str | None = None,
                  warn_share: float = WARN_SHARE) -> TrendPages:
    """:func:`write_trend` into ``run_dir/trend/``, and (given ``mlflow_run_id``) log both files to that
    run as artifacts under ``trend/``: the DAG's ``trend`` task."""
    pages = write_trend(Path(run_dir) / "trend", last=last, baseline=baseline, thresholds=thresholds,
                        tracking_uri=tracking_uri, warn_share=warn_share)
    if mlflow_run_id:
        from mlflow import MlflowClient

        from .mlflow_store import resolve_tracking_uri

        client = MlflowClient(resolve_tracking_uri(tracking_uri))
        for path in (pages.html, pages.png):
            client.log_artifact(mlflow_run_id, str(path), "trend")
    return pages
