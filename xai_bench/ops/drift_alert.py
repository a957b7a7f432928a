"""What a drift alert says: the failing and warning rows of a gate verdict, as mail text.

The gate (:mod:`xai_bench.ops.gate`) writes ``gate.json`` with one row per model x dataset x
method x metric. An alert is due when

- the verdict is ``fail``: the rows whose verdict is ``fail`` or ``missing`` are named; or
- a gated metric crosses its **warning band**: a row that passes (or is ``insufficient``) but
  whose mean worsening over the paired prompts (``mean_worse``, positive = worse) is more than
  ``warn_share`` of its tolerance (default 0.5: half-way to a failure). Such a row does not
  fail the run; the alert is a warning.

``drift_alert(gate, run_id=..., report_link=...)`` returns a :class:`DriftAlert` (level,
subject, plain text, HTML, the rows) or ``None`` when nothing is due. All text taken from the
run (model, data set, method and metric names, reasons) is HTML-escaped in the HTML body and
stripped of control characters in the subject. Delivery is the DAG's job, through an Airflow
notifier configured by a Connection (``dags/xai_benchmark.py``); this module imports no Airflow.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WARN_SHARE", "DriftAlert", "drift_alert", "failing_rows", "warning_rows"]

WARN_SHARE = 0.5  # a passing row worse by more than this share of its tolerance is a warning
_FAILING = ("fail", "missing")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _rows(gate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    report = gate.get("report") or {}
    rows = report.get("rows") if isinstance(report, Mapping) else None
    return list(rows or [])


def failing_rows(gate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Rows of a ``gate.json`` document whose verdict is ``fail`` or ``missing``."""
    return [r for r in _rows(gate) if r.get("verdict") in _FAILING]


def warning_rows(gate: Mapping[str, Any], warn_share: float = WARN_SHARE) -> list[Mapping[str, Any]]:
    """Passing (or insufficient) rows worse by more than ``warn_share`` x their tolerance."""
    if not 0 < warn_share <= 1:
        raise ValueError(f"The 'warn_share' parameter must be a float in the range (0, 1]. Got {warn_share!r} instead.")
    out = []
    for r in _rows(gate):
        worse, tol = r.get("mean_worse"), r.get("tolerance")
        if r.get("verdict") in ("pass", "insufficient") and worse is not None and tol is not None and tol > 0 \
                and worse > warn_share * tol:
            out.append(r)
    return out


@dataclass(frozen=True, kw_only=True)
class DriftAlert:
    """One alert: ``level`` is ``"fail"`` or ``"warning"``; ``rows`` are the rows it names."""

    level: str
    run_id: str
    subject: str
    text: str
    html: str
    rows: list[Mapping[str, Any]] = field(default_factory=list)


def _clean(text: Any) -> str:
    return _CONTROL.sub(" ", str(text)).strip()


def _row_line(r: Mapping[str, Any]) -> str:
    where = f"{r.get('model')} / {r.get('dataset')} / {r.get('method')} / {r.get('metric')}"
    stats = []
    for key in ("baseline", "current", "mean_worse", "tolerance"):
        v = r.get(key)
        if isinstance(v, (int, float)):
            stats.append(f"{key} {v:.4g}")
    reason = _clean(r.get("reason") or "")
    return f"{r.get('verdict')}: {_clean(where)}" + (f" ({', '.join(stats)})" if stats else "") + \
        (f": {reason}" if reason else "")


def _grouped_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """One line per row, except that rows of one model/dataset/method with the same verdict and reason
    (a whole cell missing from the current run: one row per metric) share one line naming the metrics."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in rows:
        key = (r.get("verdict"), r.get("model"), r.get("dataset"), r.get("method"), r.get("reason"))
        groups.setdefault(key if r.get("verdict") == "missing" else (id(r),), []).append(r)
    lines = []
    for group in groups.values():
        if len(group) == 1:
            lines.append(_row_line(group[0]))
            continue
        r = group[0]
        where = _clean(f"{r.get('model')} / {r.get('dataset')} / {r.get('method')}")
        names = ", ".join(_clean(g.get("metric")) for g in group)
        lines.append(f"{r.get('verdict')}: {where}: {len(group)} metrics ({names}): {_clean(r.get('reason') or '')}")
    return lines


def drift_alert(gate: Mapping[str, Any], *, run_id: str, report_link: str | Sequence[str] = (),
                warn_share: float = WARN_SHARE, max_rows: int = 50) -> DriftAlert | None:
    """The alert a ``gate.json`` document calls for, or None (pass without warnings, no baseline).

    ``report_link``: where the report is (a path, an MLflow address, or several); named in the body.
    At most ``max_rows`` lines are listed (a cell missing from the current run is one line); the body
    says how many more there are.
    """
    failing = failing_rows(gate)
    if gate.get("verdict") == "fail" or failing:
        level, rows = "fail", failing
    else:
        rows = warning_rows(gate, warn_share)
        if not rows:
            return None
        level = "warning"
    links = [report_link] if isinstance(report_link, str) else list(report_link)
    run = _clean(run_id)
    if level == "fail":
        subject = f"[xai-bench] drift gate FAILED for run {run}: {len(rows)} row(s)"
        lead = f"The drift gate failed for run {run}: {len(rows)} row(s) fail or are missing."
    else:
        subject = f"[xai-bench] drift warning for run {run}: {len(rows)} metric(s) past {warn_share:g} of tolerance"
        lead = (f"Run {run} passed the gate, but {len(rows)} metric(s) are worse than the baseline by more than "
                f"{warn_share:g} of their tolerance.")
    lines = _grouped_lines(rows)
    shown = lines[:max_rows]
    more = len(lines) - len(shown)
    base = gate.get("baseline")
    text_lines = [lead, f"Baseline: {_clean(base)}" if base else "", "", *shown]
    if more:
        text_lines.append(f"... and {more} more line(s) (see gate.json)")
    text_lines += ["", "Report:", *(f"  {_clean(link)}" for link in links)]
    text = "\n".join(line for i, line in enumerate(text_lines) if line or i > 1) + "\n"
    e = html.escape
    items = "".join(f"<li>{e(line)}</li>" for line in shown)
    body = (f"<p>{e(lead)}</p>" + (f"<p>Baseline: {e(_clean(base))}</p>" if base else "")
            + f"<ul>{items}</ul>" + (f"<p>... and {more} more line(s) (see gate.json)</p>" if more else "")
            + "<p>Report:</p><ul>"
            + "".join(f'<li><a href="{e(_clean(link), quote=True)}">{e(_clean(link))}</a></li>' for link in links)
            + "</ul>")
    return DriftAlert(level=level, run_id=run, subject=_clean(subject), text=text, html=body, rows=list(rows))
