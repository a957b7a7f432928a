"""``xai-bench gate``: fail CI when a run's metrics regress against a baseline."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from ..gate import GateInputError, GateReport, compare, load_metrics, load_thresholds

__all__ = ["gate"]

_STYLE = {"pass": "green", "fail": "bold red", "missing": "bold red", "new": "cyan"}


class _InputError(click.ClickException):
    """Unusable input: one line on stderr, exit code 2."""

    exit_code = 2


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _print_table(report: GateReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"drift gate: {report.current_source} vs {report.baseline_source}", title_justify="left")
    for col in ("model", "dataset", "method", "metric"):
        table.add_column(col, overflow="fold")
    for col in ("baseline", "current", "delta"):
        table.add_column(col, justify="right")
    table.add_column("rule", overflow="fold")
    table.add_column("verdict")
    for r in report.rows:
        delta = "-" if r.delta is None else f"{r.delta:+.4g}"
        verdict = f"[{_STYLE[r.verdict]}]{r.verdict}[/]"
        table.add_row(r.model, r.dataset, r.method, r.metric, _fmt(r.baseline), _fmt(r.current), delta, r.rule, verdict)
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)  # CI logs: a wide table reads better than a folded one
    console.print(table, markup=True)
    for r in report.failures:
        console.print(f"[red]{r.verdict}[/]: {r.model} / {r.dataset} / {r.method} / {r.metric}: {r.reason}",
                      markup=True, highlight=False)


@click.command("gate")
@click.option("--baseline", "-b", required=True, metavar="BASE",
              help="Baseline metrics.json, or an MLflow run as mlflow:<run_id> or runs:/<run_id>.")
@click.option("--current", "-c", required=True, metavar="CUR",
              help="metrics.json of the run under test (a path or an MLflow run id, as for --baseline).")
@click.option("--thresholds", "-t", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Thresholds YAML (default: the built-in rules, also in configs/gate-thresholds.yaml).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the verdict JSON (default: gate.json next to CUR, or in the working "
                   "directory when CUR is an MLflow run).")
def gate(baseline: str, current: str, thresholds: Path | None, out: Path | None) -> None:
    """Compare CUR's metrics with BASE's and fail when any regressed beyond its threshold.

    Prints every compared metric with its verdict (pass, fail, missing, new) and writes
    the same as JSON. Exit code 0 when every threshold holds, 1 when any metric regressed
    or disappeared, 2 when an input is missing or malformed.

    \b
    Example:
      xai-bench gate --baseline benchmarks/baseline/metrics.json \\
                     --current out/run/metrics.json --thresholds configs/gate-thresholds.yaml
    """
    try:
        base_doc = load_metrics(baseline)
        cur_doc = load_metrics(current)
        rules = load_thresholds(thresholds)
    except GateInputError as e:
        raise _InputError(str(e)) from e
    report = compare(base_doc, cur_doc, rules, baseline_source=baseline, current_source=current)

    if out is None:
        cur_path = Path(current)
        is_file = not current.startswith(("mlflow:", "runs:/"))
        out = cur_path.parent / "gate.json" if is_file else Path("gate.json")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise _InputError(f"{out}: cannot write the verdict JSON: {e.strerror or e}") from e

    _print_table(report)
    c = report.counts
    summary = f"{c['pass']} pass, {c['fail']} fail, {c['missing']} missing, {c['new']} new; verdict written to {out}"
    if report.passed:
        click.secho(f"gate PASSED: {summary}", fg="green")
        return
    click.secho(f"gate FAILED: {summary}", fg="red")
    click.get_current_context().exit(1)
