"""``xai-bench gate``: fail CI when a run's metrics regress against a baseline, prompt by prompt."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from ._common import user_errors
from ..ops.gate import EXIT_CODES, GateReport, GateRow, compare, is_mlflow_source, load_run, load_thresholds

__all__ = ["gate"]

_STYLE = {"pass": "green", "fail": "bold red", "missing": "bold red", "insufficient": "yellow", "new": "cyan",
          "info": "dim"}


class _InputError(click.ClickException):
    """Unusable input: one line on stderr, exit code 2."""

    exit_code = EXIT_CODES["input"]


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _interval(r: GateRow) -> str:
    if r.ci_low is None or r.ci_high is None:
        return "-"
    return f"[{r.ci_low:+.3g}, {r.ci_high:+.3g}]"


def _print_table(report: GateReport) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    cur, base = escape(str(report.current_source)), escape(str(report.baseline_source))
    table = Table(title=f"drift gate: {cur} vs {base} (paired by prompt; "
                        f"worse > 0; {report.confidence:.0%} t-interval; min_prompts {report.min_prompts})",
                  title_justify="left")
    for col in ("model", "dataset", "method", "metric"):
        table.add_column(col, overflow="fold")
    for col in ("baseline", "current", "n", "worse by", "interval", "tolerance"):
        table.add_column(col, justify="right")
    table.add_column("rule", overflow="fold")
    table.add_column("verdict")
    for r in report.rows:
        n = str(r.n_pairs) + (f" (+{r.n_excluded} undef.)" if r.n_excluded else "")
        table.add_row(escape(r.model), escape(r.dataset), escape(r.method), escape(r.metric), _fmt(r.baseline),
                      _fmt(r.current), n,
                      "-" if r.mean_worse is None else f"{r.mean_worse:+.4g}", _interval(r), _fmt(r.tolerance),
                      escape(str(r.rule)), f"[{_STYLE[r.verdict]}]{r.verdict}[/]")
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=180)  # CI logs: a wide table reads better than a folded one
    console.print(table, markup=True)
    for r in report.failures + report.insufficient:
        where = escape(f"{r.model} / {r.dataset} / {r.method} / {r.metric}: {r.reason}")
        console.print(f"[{_STYLE[r.verdict]}]{r.verdict}[/]: {where}", markup=True, highlight=False)


@click.command("gate")
@click.option("--baseline", "-b", required=True, metavar="BASE",
              help="Baseline run: its folder, its metrics.json (per_prompt.csv must be beside it), or an MLflow "
                   "run as mlflow:<run_id> or runs:/<run_id>.")
@click.option("--current", "-c", required=True, metavar="CUR",
              help="The run under test, given as for --baseline.")
@click.option("--thresholds", "-t", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Thresholds YAML (default: the built-in rules, also in configs/gate-thresholds.yaml).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the verdict JSON (default: gate.json in CUR's run folder, or in the working "
                   "directory when CUR is an MLflow run).")
@click.option("--allow-insufficient", is_flag=True, default=False,
              help="Exit 0 instead of 3 when nothing failed but some metric had too few prompts to decide "
                   "(the verdict 'insufficient' is still printed and written).")
@click.option("--force", is_flag=True, default=False,
              help="Overwrite the verdict JSON when it exists already (e.g. the gate.json a recorded run holds).")
@user_errors  # GateInputError (an XaiBenchError) -> one line on stderr, exit 2
def gate(baseline: str, current: str, thresholds: Path | None, out: Path | None, allow_insufficient: bool,
         force: bool) -> None:
    """Compare CUR with BASE prompt by prompt and fail when a metric regressed beyond doubt.

    Pairs the rows of both runs' per_prompt.csv by model, dataset, method and prompt; per
    metric with a rule, a metric fails only when the whole confidence interval of the mean
    paired worsening lies beyond its tolerance. Prints every row with its verdict (pass,
    fail, insufficient, missing, new, info) and writes the same as JSON.

    \b
    Exit codes:
      0  pass
      1  a metric regressed, became undefined, or a prompt/metric disappeared
      2  unusable input (missing or invalid metrics.json, per_prompt.csv or thresholds)
      3  insufficient: nothing failed, but a gated metric had fewer than min_prompts pairs
         (0 with --allow-insufficient)

    \b
    Example:
      xai-bench gate --baseline configs/baseline --current runs/ci/metrics.json \\
                     --thresholds configs/gate-thresholds.yaml
    """
    if out is None:
        if is_mlflow_source(current):
            out = Path("gate.json")
        else:
            cur_path = Path(current)
            out = (cur_path if cur_path.is_dir() else cur_path.parent) / "gate.json"
    if out.exists() and not force:  # checked first: a run's recorded verdict is not replaced by accident
        raise _InputError(f"{out} exists already (a recorded verdict?); pass --force to overwrite it or --out to "
                          "write the verdict elsewhere.")
    base_run = load_run(baseline)
    cur_run = load_run(current)
    rules = load_thresholds(thresholds)
    report = compare(base_run, cur_run, rules)
    code = report.exit_code(allow_insufficient=allow_insufficient)

    doc = {**report.to_dict(), "allow_insufficient": allow_insufficient, "exit_code": code}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise _InputError(f"{out}: cannot write the verdict JSON: {e.strerror or e}") from e

    _print_table(report)
    c = report.counts
    summary = (f"{c['pass']} pass, {c['fail']} fail, {c['missing']} missing, {c['insufficient']} insufficient, "
               f"{c['new']} new, {c['info']} info; verdict written to {out}")
    if report.verdict == "pass":
        click.secho(f"gate PASSED: {summary}", fg="green")
    elif report.verdict == "fail":
        click.secho(f"gate FAILED: {summary}", fg="red")
    else:
        tail = ("; exit 0 (--allow-insufficient)" if allow_insufficient
                else "; exit 3 (--allow-insufficient accepts it)")
        click.secho(f"gate INSUFFICIENT: too few prompts to decide for {c['insufficient']} metric(s); {summary}{tail}",
                    fg="yellow")
    if code:
        click.get_current_context().exit(code)
