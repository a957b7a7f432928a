"""``xai-bench gate``: fail CI when a run's metrics regress against a baseline, prompt by prompt."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from ._common import user_errors
from ._format import echo_json, format_option, md_escape, md_table, status
from ..errors import XaiBenchError
from ..ops.gate import EXIT_CODES, GateReport, GateRow, compare, is_mlflow_source, load_run, load_thresholds
from ..secrets import redact_known

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


_MD_COLUMNS = ("model", "dataset", "method", "metric", "baseline", "current", "n", "worse by", "interval", "tolerance")
_MD_RIGHT = frozenset({"baseline", "current", "n", "worse by", "interval", "tolerance"})
_HEADLINE = {"pass": "PASSED", "fail": "FAILED", "insufficient": "INSUFFICIENT"}


def _md_cells(r: GateRow) -> list[str]:
    n = str(r.n_pairs) + (f" (+{r.n_excluded} undef.)" if r.n_excluded else "")
    worse = "-" if r.mean_worse is None else f"{r.mean_worse:+.4g}"
    return [r.model, r.dataset, r.method, r.metric, _fmt(r.baseline), _fmt(r.current), n, worse, _interval(r),
            _fmt(r.tolerance)]


def gate_markdown(report: GateReport, code: int, out: Path) -> str:
    """The verdict as Markdown for a CI step summary: a headline, the rows that decided it, and every
    row in a collapsed ``<details>`` block (GitHub renders it folded)."""
    c = report.counts
    head = _HEADLINE[report.verdict]
    counts = ", ".join(f"{n} {k}" for k, n in c.items())
    lines = [f"## xai-bench drift gate: {head}", "",
             f"**{head}** (exit code {code}): {counts}.", "",
             f"Current {md_escape(report.current_source)} against baseline {md_escape(report.baseline_source)}, "
             f"paired by prompt; worse > 0; {report.confidence:.0%} t-interval of the mean paired worsening; "
             f"min_prompts {report.min_prompts}; thresholds {md_escape(report.thresholds_source or 'built-in')}; "
             f"verdict JSON {md_escape(out)}.", ""]
    decided = report.failures + report.insufficient
    if decided:
        lines += ["### Rows that decided the verdict", "",
                  md_table([*_MD_COLUMNS, "verdict", "reason"], [[*_md_cells(r), r.verdict, r.reason] for r in decided],
                           _MD_RIGHT), ""]
    lines += [f"<details><summary>All {len(report.rows)} compared metrics</summary>", "",
              md_table([*_MD_COLUMNS, "rule", "verdict"], [[*_md_cells(r), str(r.rule), r.verdict] for r in report.rows],
                       _MD_RIGHT), "", "</details>", ""]
    return "\n".join(lines)


def _error_markdown(message: str) -> str:
    return f"## xai-bench drift gate: ERROR\n\nThe gate could not compare the runs (exit code 2): {md_escape(message)}\n"


def _write_summaries(text: str, summary_md: Path | None) -> None:
    """Write ``text`` to --summary-md (replaced) and append it to $GITHUB_STEP_SUMMARY when that is set.

    When both name the same file it is appended to once: a step summary holds earlier steps' text too.
    """
    step = os.environ.get("GITHUB_STEP_SUMMARY") or None
    same = step is not None and summary_md is not None and os.path.abspath(step) == os.path.abspath(summary_md)
    if summary_md is not None and not same:
        try:
            summary_md.parent.mkdir(parents=True, exist_ok=True)
            summary_md.write_text(redact_known(text), encoding="utf-8")
        except OSError as e:
            raise _InputError(f"{summary_md}: cannot write the --summary-md file: {e.strerror or e}") from e
    if step is not None:
        try:
            with open(step, "a", encoding="utf-8") as f:
                f.write(text if text.endswith("\n") else text + "\n")
        except OSError as e:
            msg = f"$GITHUB_STEP_SUMMARY file {step}: cannot append the gate summary: {e.strerror or e}"
            if same:
                raise _InputError(msg) from e
            click.echo(f"warning: {msg}", err=True)


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
@click.option("--summary-md", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the verdict as Markdown here (for a CI step summary or a pull-request comment). "
                   "When $GITHUB_STEP_SUMMARY is set, the same Markdown is appended to it in any case.")
@format_option("the verdict JSON (as written to --out)")
@user_errors  # GateInputError (an XaiBenchError) -> one line on stderr, exit 2
def gate(baseline: str, current: str, thresholds: Path | None, out: Path | None, allow_insufficient: bool,
         force: bool, summary_md: Path | None, fmt: str) -> None:
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

    In GitHub Actions ($GITHUB_STEP_SUMMARY set) the verdict, its deciding rows and every
    row (folded) are appended to the job's step summary as Markdown, also on exit code 2.

    \b
    Example:
      xai-bench gate --baseline configs/baseline --current runs/ci/metrics.json \\
                     --thresholds configs/gate-thresholds.yaml --summary-md runs/ci/gate.md
    """
    try:
        report, doc, out = _decide(baseline, current, thresholds, out, allow_insufficient, force)
    except (XaiBenchError, click.ClickException) as e:  # the CI summary says why there is no verdict
        message = e.format_message() if isinstance(e, click.ClickException) else str(e)
        _write_summaries(_error_markdown(message), summary_md)
        raise
    code = doc["exit_code"]
    _write_summaries(gate_markdown(report, code, out), summary_md)

    if fmt == "json":
        echo_json(doc)
    elif fmt == "md":
        click.echo(gate_markdown(report, code, out), nl=False)
    else:
        _print_table(report)
    c = report.counts
    summary = (f"{c['pass']} pass, {c['fail']} fail, {c['missing']} missing, {c['insufficient']} insufficient, "
               f"{c['new']} new, {c['info']} info; verdict written to {out}")
    if report.verdict == "pass":
        status(f"gate PASSED: {summary}", fmt, fg="green")
    elif report.verdict == "fail":
        status(f"gate FAILED: {summary}", fmt, fg="red")
    else:
        tail = ("; exit 0 (--allow-insufficient)" if allow_insufficient
                else "; exit 3 (--allow-insufficient accepts it)")
        status(f"gate INSUFFICIENT: too few prompts to decide for {c['insufficient']} metric(s); {summary}{tail}",
               fmt, fg="yellow")
    if code:
        click.get_current_context().exit(code)


def _decide(baseline: str, current: str, thresholds: Path | None, out: Path | None, allow_insufficient: bool,
            force: bool) -> tuple[GateReport, dict, Path]:
    """Compare the runs and write the verdict JSON; returns the report, the JSON document and where it went."""
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
        out.write_text(redact_known(json.dumps(doc, indent=2, allow_nan=False)) + "\n", encoding="utf-8")
    except OSError as e:
        raise _InputError(f"{out}: cannot write the verdict JSON: {e.strerror or e}") from e
    return report, doc, out
