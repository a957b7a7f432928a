"""``xai-bench audit``: check the hash-chained audit log and report a run for reviewers."""

from __future__ import annotations

from pathlib import Path

import click

from ..ops.audit import AuditError, read_records, verify_log
from ..ops.audit_report import render_report
from ._common import user_errors
from ._format import dumps
from ..secrets import redact_known

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
@click.option("--head", "expected_head", metavar="[SEQ:]HASH", default=None,
              help="The head kept elsewhere (MLflow tags xai_bench.audit_seq and .audit_head); detects records "
                   "removed from or added to the end and a forged last record (SEQ tells removal from forgery).")
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
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json", "table"]), default="md", show_default=True,
              help="md: Markdown; html: a self-contained page; json: {log, chain, record} with the record as "
                   "logged; table: the Markdown drawn as tables on the terminal.")
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
      xai-bench audit report out/audit.jsonl --format json | jq .record.gate_verdict
    """
    if fmt == "json":
        text = dumps(_report_doc(log, run_id)) + "\n"
    elif fmt == "table":
        if out is not None:
            raise click.UsageError("--format table draws on the terminal; use md, html or json with --out.")
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(render_report(log, run_id=run_id, fmt="md")))
        return
    else:
        text = render_report(log, run_id=run_id, fmt=fmt)  # type: ignore[arg-type]
    if out is None:
        click.echo(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(redact_known(text), encoding="utf-8")
    except OSError as e:
        raise _InputError(f"{out}: cannot write the report: {e.strerror or e}") from e
    click.echo(f"report written to {out}")


def _report_doc(log: Path, run_id: str | None) -> dict:
    """The JSON report: the log's path, the chain check and the run's record exactly as logged."""
    status = verify_log(log)
    records = read_records(log)
    if not records:
        raise AuditError(f"{log}: the audit log has no records to report.")
    matching = records if run_id is None else [r for r in records if r.get("run_id") == run_id]
    if not matching:
        known = [str(r.get("run_id")) for r in records[-10:]]
        raise AuditError(f"{log}: no record with run_id {run_id!r}. Recent run ids: {', '.join(known)}.")
    chain = {"ok": status.ok, "n_records": status.n_records, "head_hash": status.head_hash,
             "first_bad_line": status.first_bad_line, "first_bad_seq": status.first_bad_seq,
             "reason": status.reason}
    return {"log": str(log), "chain": chain, "record": matching[-1]}
