"""``xai-bench audit``: check the hash-chained audit log and report a run for reviewers."""

from __future__ import annotations

from pathlib import Path

import click

from ..ops.audit import verify_log
from ..ops.audit_report import render_report
from ._common import user_errors

__all__ = ["audit"]


class _InputError(click.ClickException):
    """Unusable input: one line on stderr, exit code 2."""

    exit_code = 2


@click.group("audit")
def audit() -> None:
    """Check and report the append-only, hash-chained audit log of benchmark runs.

    \b
    Example:
      xai-bench audit verify out/audit.jsonl
      xai-bench audit report out/audit.jsonl --format html --out report.html
    """


@audit.command("verify")
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--head", "expected_head", metavar="HASH", default=None,
              help="The hash the last record must have (kept elsewhere, e.g. in MLflow); "
                   "detects records removed from the end.")
@user_errors  # AuditError (an XaiBenchError) -> one line on stderr, exit 2
def verify(log: Path, expected_head: str | None) -> None:
    """Recompute every record's hash and chain link in LOG.

    Exit code 0 when the chain is intact, 1 when a record was edited, removed, inserted
    or reordered (the message names the first bad record), 2 when LOG cannot be read.

    \b
    Example:
      xai-bench audit verify out/audit.jsonl
    """
    result = verify_log(log, expected_head=expected_head)
    if result.ok:
        click.secho(f"{log}: chain intact, {result.n_records} records, head {result.head_hash}", fg="green")
        return
    where = f"first bad record at line {result.first_bad_line}" if result.first_bad_line else "chain head mismatch"
    if result.first_bad_seq is not None:
        where += f" (seq {result.first_bad_seq})"
    click.secho(f"{log}: chain BROKEN, {where}: {result.reason}", fg="red", err=True)
    click.get_current_context().exit(1)


@audit.command("report")
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--run-id", default=None, help="The run to report (default: the last record).")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True,
              help="Markdown or a self-contained HTML page.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here instead of printing it.")
@user_errors
def report(log: Path, run_id: str | None, fmt: str, out: Path | None) -> None:
    """Render one run's audit record as a report for reviewers.

    Shows run metadata, models and weight hashes, datasets and content hashes, metrics,
    the drift-gate verdict and whether the chain is intact.

    \b
    Example:
      xai-bench audit report out/audit.jsonl --run-id 2025-01-01T00-00-00 --format html --out report.html
    """
    text = render_report(log, run_id=run_id, fmt=fmt)  # type: ignore[arg-type]
    if out is None:
        click.echo(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise _InputError(f"{out}: cannot write the report: {e.strerror or e}") from e
    click.echo(f"report written to {out}")
