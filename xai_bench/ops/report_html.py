"""``report.html``: one self-contained page per benchmark run, beside ``report.md``.

``write_report_html(run_dir)`` reads the run folder through :mod:`xai_bench.ops.runfolder`
(``load_run``: ``metrics.json`` and ``per_prompt.csv``, validated; ``RunFolder``: ``run.json``,
the configuration, the data hashes), plus ``gate.json`` when the gate has run and the
explanations in ``fit/`` (located by ``benchmark.rundir``), and writes ``report.html``:

- the run's provenance (run id, configuration hash, seed, git commit, models and methods);
- the gate verdict with its failing, missing, insufficient and warning rows
  (:mod:`xai_bench.ops.drift_alert`), or a line saying the gate has not run;
- the data versions: each data set's sha256 (``RunFolder.dataset_hashes``: ``run.json``'s
  ``fingerprint.data``, else the shards') and the llama.cpp build that answered;
- per data set, the tables of ``report.md`` (``benchmark.report.REPORT_COLUMNS``) with the
  number of prompts and each mean's interval (from 10 prompts on) or range (below), the paired
  comparisons, task accuracy, faithfulness and the notes;
- per prompt, the heatmap of every method of that prompt, one row per method
  (``explain.heatmap.heatmap_figure``), embedded as a PNG ``data:`` URI.

Self-contained: inline CSS, no script, nothing fetched; links (to ``heatmaps/*.html``) are
relative to the run folder. Every text taken from the run (prompts, responses, model and data
set names, notes, gate reasons) is HTML-escaped, control characters shown as ``\\xNN``
(the policy of ``explain.heatmap``). Tables and figures fit the page width: long words wrap.

Where it is written (:func:`publish_report`): ``xai-bench run`` after the run (after the gate
under ``--record``), and the Airflow DAG after the gate, so the page carries the verdict; a
recorded run's page is logged to its MLflow parent run with the per-prompt table
(:func:`log_report`).
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from .runfolder import RunFolder, load_run
from .drift_alert import WARN_SHARE, failing_rows, warning_rows
from ..benchmark.report import PAIRED_METRICS, REPORT_COLUMNS, _fmt, bounds_text
from ..benchmark.rundir import read_json, slug, stage_path, write_text
from ..explain.heatmap import _esc as esc

__all__ = ["REPORT_HTML", "MAX_HEATMAPS", "render_report_html", "write_report_html", "log_report", "publish_report"]

REPORT_HTML = "report.html"
MAX_HEATMAPS = 48  # per-prompt heatmap figures embedded; the rest are linked
_HEATMAP_DPI = 96

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1180px;margin:0 auto;padding:1.2em 1.5em}
h1{font-size:1.5em;margin:.2em 0 .4em} h2{font-size:1.25em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin:1em 0 .3em}
p,li{overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:13px;margin:.3em 0 .8em;table-layout:auto}
th,td{border:1px solid #ccc;padding:3px 5px;vertical-align:top;overflow-wrap:break-word}
th{background:#f2f2f2;text-align:left} td.num{text-align:right;white-space:normal}
.ci{display:block;font-size:11px;color:#555}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:bold;color:#fff}
.v-pass{background:#2e7d32}.v-fail{background:#c62828}.v-insufficient{background:#b26a00}.v-none{background:#666}
.note{color:#555;font-size:.9em}
figure{margin:1em 0 1.6em;border-top:1px solid #ddd;padding-top:.6em}
figure img{display:block;max-width:100%;height:auto}
figcaption{font-size:.9em;margin-bottom:.4em;overflow-wrap:anywhere}
figcaption .prompt{white-space:pre-wrap;color:#333}
code{font-size:.95em;overflow-wrap:anywhere}
"""


def _brk(text: Any) -> str:
    """Escaped ``text`` that may wrap after ``_``, ``/`` and ``:`` (metric, model and data set names)."""
    return esc(text).replace("_", "_<wbr>").replace("/", "/<wbr>").replace(":", ":<wbr>")


def _table(header: list[str], rows: list[list[str]], num_from: int = 99) -> str:
    """An HTML table; ``header`` and cells are already-escaped HTML; columns from ``num_from`` right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i >= num_from else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(d: dict[str, Any], m: str) -> str:
    """Mean, then its interval ``[low, high]`` or its range ``(min to max)`` below, as report.md does."""
    if m not in d:
        return "–"
    bounds = bounds_text(d, m, lambda v: esc(_fmt(v)))
    return esc(_fmt(d[m])) + (f'<span class="ci">{bounds}</span>' if bounds else "")


def _n(d: dict[str, Any]) -> str:
    return str(max((v for k, v in d.items() if k.endswith("_n") and isinstance(v, (int, float))), default=0))


def _meta(doc: dict[str, Any], info: dict[str, Any], config: dict[str, Any]) -> str:
    run = doc.get("run") or {}
    dirty = {True: " (uncommitted changes)", False: " (clean)"}.get(run.get("git_dirty"), "")
    explain = config.get("explain") or {}
    items = [
        f"run id <code>{esc(run.get('run_id', '?'))}</code>, created {esc(run.get('created', '?'))}",
        f"configuration <code>{esc(doc.get('config_name', config.get('name', '?')))}</code>, hash "
        f"<code>{esc(str(run.get('config_hash', '?'))[:16])}</code>, seed {esc(run.get('seed', '?'))}",
        f"git commit <code>{esc(str(run.get('git_commit') or 'unknown')[:12])}</code>{dirty}",
        "models: " + ", ".join(f"<code>{esc(m)}</code>" for m in doc.get("results", {})),
        "methods: " + ", ".join(f"<code>{esc(m)}</code>" for m in config.get("methods", [])),
    ]
    if explain:
        items.append(f"explain: J = {esc(explain.get('n_perturbations', '?'))}, max_tokens = "
                     f"{esc(explain.get('max_tokens', '?'))}, temperature = {esc(explain.get('temperature', '?'))}")
    if info.get("notes"):
        items.append(f"{len(info['notes'])} note(s) from preparation: see Notes")
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _gate(gate: dict[str, Any] | None) -> str:
    out = ['<h2 id="gate">Drift gate</h2>']
    if gate is None:
        return "".join(out) + ('<p><span class="verdict v-none">not run</span> No <code>gate.json</code> in this run '
                               "folder: the gate runs after the report (<code>xai-bench gate</code>, "
                               "<code>xai-bench run --record</code> or the Airflow DAG).</p>")
    verdict = str(gate.get("verdict", "?"))
    cls = {"pass": "v-pass", "fail": "v-fail", "insufficient": "v-insufficient"}.get(verdict, "v-none")
    report = gate.get("report") or {}
    out.append(f'<p><span class="verdict {cls}">{esc(verdict)}</span> baseline <code>{esc(gate.get("baseline"))}'
               f"</code>" + (f", thresholds <code>{esc(report.get('thresholds'))}</code>" if report else "") + "</p>")
    if report.get("counts"):
        out.append("<p>Rows: " + ", ".join(f"{esc(k)} {esc(v)}" for k, v in report["counts"].items() if v) + "</p>")
    rows = failing_rows(gate) + [r for r in report.get("rows", []) if r.get("verdict") == "insufficient"]
    warn = warning_rows(gate)
    if rows or warn:
        body = [[esc(r.get("verdict")) + (" (warning)" if r in warn else ""), f"<code>{esc(r.get('model'))}</code>",
                 esc(r.get("dataset")), esc(r.get("method")), esc(r.get("metric")), str(r.get("n_pairs", "")),
                 esc("" if r.get("mean_worse") is None else _fmt(r["mean_worse"])),
                 esc("" if r.get("tolerance") is None else _fmt(r["tolerance"])), esc(r.get("reason") or "")]
                for r in rows + warn]
        out.append(_table(["verdict", "model", "dataset", "method", "metric", "pairs", "mean worse", "tolerance",
                           "reason"], body))
        out.append(f'<p class="note">"warning": passes, but worse than the baseline by more than {WARN_SHARE:g} '
                   "of its tolerance (mean over the paired prompts, positive = worse).</p>")
    elif verdict == "pass":
        out.append("<p>Every gated metric is within its tolerance.</p>")
    return "".join(out)


def _data_versions(info: dict[str, Any], data: dict[str, str]) -> str:
    out = ['<h2 id="data">Data versions</h2>']
    if data:
        out.append(_table(["data set", "sha256 of the prepared data file (run.json)"],
                          [[esc(k), f"<code>{esc(v)}</code>"] for k, v in data.items()]))
    else:
        out.append("<p>run.json records no data hashes.</p>")
    backend = info.get("backend") or {}
    if backend:
        out.append(f"<p>llama.cpp build <code>{esc(backend.get('build_id'))}</code> "
                   f"({esc(backend.get('package', ''))} {esc(backend.get('version', ''))}); configuration hash "
                   f"<code>{esc(info.get('config_hash', ''))}</code></p>")
    return "".join(out)


def _results(doc: dict[str, Any]) -> str:
    results, paired = doc.get("results", {}), doc.get("paired") or {}
    iv = doc.get("intervals") or {}
    out = ["<h2 id=\"results\">Results</h2>",
           f"<p class=\"note\">Means over prompts. From {esc(iv.get('min_prompts', 10))} prompts on, "
           f"<span class=\"ci\" style=\"display:inline\">[low, high]</span> is the "
           f"{100 * float(iv.get('confidence', 0.95)):g}% {esc(iv.get('method', 'Student-t'))} interval of the "
           "mean; with fewer, <span class=\"ci\" style=\"display:inline\">(min to max)</span> is the range of the "
           "per-prompt values. – = not measured or undefined. consistency_std is in each method's own units.</p>"]
    datasets = list(dict.fromkeys(d for per_model in results.values() for d in per_model))
    for dataset in datasets:
        out.append(f"<h3>{esc(dataset)}</h3>")
        cells = [(m, meth, d) for m in results for meth, d in results[m].get(dataset, {}).items()]
        for title, columns in REPORT_COLUMNS:
            present = [c for c in columns if any(c in d for _, _, d in cells)]
            if present:
                body = [[f"<code>{_brk(m)}</code>", _brk(meth), _n(d)] + [_cell(d, c) for c in present]
                        for m, meth, d in cells]
                out.append(f"<p><b>{esc(title)}</b></p>"
                           + _table(["model", "method", "prompts"] + [_brk(c) for c in present], body, 2))
        pcells = [(m, comp, d) for m in paired for comp, d in paired[m].get(dataset, {}).items()]
        present = [c for c in PAIRED_METRICS if any(c in d for _, _, d in pcells)]
        if pcells and present:
            body = [[f"<code>{_brk(m)}</code>", _brk(comp), _n(d)] + [_cell(d, c) for c in present]
                    for m, comp, d in pcells]
            out.append("<p><b>Paired comparisons (same prompts; method minus baseline)</b></p>"
                       + _table(["model", "comparison", "prompts"] + [_brk(c) for c in present], body, 2))
    task = doc.get("task_accuracy") or {}
    if task:
        body = [[f"<code>{esc(m)}</code>", esc(d), _cell(v, "task_accuracy"), esc(_fmt(v.get("parse_rate", 0))),
                 esc(v.get("task_accuracy_n", ""))] for m, per in task.items() for d, v in per.items()]
        out.append("<h3>Task accuracy (measured on gold labels, Wilson interval)</h3>"
                   + _table(["model", "dataset", "accuracy", "parse rate", "prompts"], body, 2))
    faith = doc.get("faithfulness") or {}
    if faith:
        body = [[esc(d), esc(meth), esc(metric), esc(f"{e['r']:+.3f}"), "–" if e.get("p") is None else
                 esc(f"{e['p']:.3f}"), esc(e.get("n_models", ""))]
                for d, per in faith.items() for meth, mets in per.items() for metric, e in mets.items()]
        out.append("<h3>Faithfulness (Pearson r across models)</h3>"
                   + _table(["dataset", "method", "metric", "r", "p", "models"], body, 3))
    if doc.get("notes"):
        out.append("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in doc["notes"]) + "</ul>")
    return "".join(out)


def _explanations(run_dir: Path, info: dict[str, Any]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    by_prompt: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for shard_id in info.get("shards", []):
        path = stage_path(run_dir, "fit", shard_id)
        if not path.is_file():
            continue
        fitted = read_json(path)
        for item in fitted.get("explanations", []):
            by_prompt[(fitted["model"], fitted["dataset"], item["example_id"])].append(item["explanation"])
    return by_prompt


def _png_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_HEATMAP_DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _heatmaps(run_dir: Path, info: dict[str, Any], max_heatmaps: int) -> str:
    from ..explain.explanation import Explanation
    from ..explain.heatmap import heatmap_figure

    by_prompt = _explanations(run_dir, info)
    out = ['<h2 id="heatmaps">Heatmaps per prompt</h2>',
           '<p class="note">Every method of a prompt, one row each: the words coloured by attribution (red = more '
           "important, blue = less, white = 0), each row scaled by its own max |attribution|, its score below.</p>"]
    if not by_prompt:
        return "".join(out) + "<p>No explanations in this run folder (fit/ is empty).</p>"
    for i, ((model, dataset, example_id), items) in enumerate(by_prompt.items()):
        link = Path("heatmaps") / slug(model, hashed=True) / slug(dataset) / f"{slug(example_id, hashed=True)}.html"
        href = f' (<a href="{esc(link.as_posix())}">HTML</a>)' if (run_dir / link).is_file() else ""
        if i >= max_heatmaps:
            out.append(f"<p>... and {len(by_prompt) - i} more prompt(s): see <code>heatmaps/</code> in the run "
                       "folder.</p>")
            break
        exps = [Explanation.from_dict(e) for e in items]
        fig = heatmap_figure(exps, title=f"{model} on {example_id}", dpi=_HEATMAP_DPI)
        alt = f"attribution heatmap of {model} on {example_id}: {', '.join(e.method for e in exps)}"
        out.append(f'<figure><figcaption><b><code>{esc(model)}</code> / {esc(dataset)} / '
                   f"<code>{esc(example_id)}</code></b>{href}<br><span class=\"prompt\">{esc(exps[0].prompt)}</span>"
                   f'</figcaption><img src="{_png_uri(fig)}" alt="{esc(alt)}"></figure>')
    return "".join(out)


def render_report_html(run_dir: str | os.PathLike[str], *, max_heatmaps: int = MAX_HEATMAPS) -> str:
    """The ``report.html`` page of a finished run folder, as a string (see the module docstring)."""
    if max_heatmaps < 0:
        raise ValueError(f"The 'max_heatmaps' parameter must be an int >= 0. Got {max_heatmaps!r} instead.")
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    doc = load_run(run_dir).metrics  # metrics.json and per_prompt.csv, validated together
    info, config = folder.info(), folder.config()
    gate_path = run_dir / "gate.json"
    gate = json.loads(gate_path.read_text(encoding="utf-8")) if gate_path.is_file() else None
    title = f"Benchmark report: {doc.get('config_name', config.get('name', run_dir.name))}"
    body = [f"<h1>{esc(title)}</h1>", _meta(doc, info, config), _gate(gate), _data_versions(info, folder.dataset_hashes()),
            _results(doc),
            _heatmaps(run_dir, info, max_heatmaps)]
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def write_report_html(run_dir: str | os.PathLike[str], *, max_heatmaps: int = MAX_HEATMAPS) -> Path:
    """Write ``run_dir/report.html`` atomically (replacing an older one, e.g. from before the gate ran)."""
    return write_text(Path(run_dir) / REPORT_HTML, render_report_html(run_dir, max_heatmaps=max_heatmaps))


def log_report(mlflow_run_id: str, run_dir: str | os.PathLike[str], *, tracking_uri: str | None = None) -> None:
    """Upload ``report.html`` (and ``gate.json`` when present) to an MLflow run, with the per-prompt
    table as an MLflow table (``per_prompt_table.json``, shown in the run's artifacts)."""
    from mlflow import MlflowClient

    from .load import load_run
    from .mlflow_store import resolve_tracking_uri

    import tempfile

    from .secrets import redact_text

    run_dir = Path(run_dir)
    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    with tempfile.TemporaryDirectory(prefix="xai-bench-report-") as tmp:
        for name in (REPORT_HTML, "gate.json"):
            if (run_dir / name).is_file():  # key-like strings redacted, as tracking does for every text artifact
                staged = Path(tmp) / name
                staged.write_text(redact_text((run_dir / name).read_text(encoding="utf-8")), encoding="utf-8")
                client.log_artifact(mlflow_run_id, str(staged))
    client.log_table(mlflow_run_id, data=load_run(run_dir).per_prompt, artifact_file="per_prompt_table.json")


def publish_report(run_dir: str | os.PathLike[str], mlflow_run_id: str | None = None, *,
                   tracking_uri: str | None = None) -> Path:
    """:func:`write_report_html`, then (given ``mlflow_run_id``) :func:`log_report`: what ``xai-bench run``
    and the DAG call once the gate has run (or, without a record, after the run)."""
    path = write_report_html(run_dir)
    if mlflow_run_id:
        log_report(mlflow_run_id, run_dir, tracking_uri=tracking_uri)
    return path
