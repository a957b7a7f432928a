"""``xai-bench audit verify`` and ``xai-bench audit report``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xai_bench.ops.audit import append_record, canonical_json, read_records
from xai_bench.cli import main
from tests.ops.test_audit import N_RECORDS, payload


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.jsonl"
    for i in range(N_RECORDS):
        append_record(path, payload(i))
    return path


def audit(*args):
    return CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)


def test_verify_untouched_log_exits_0(log):
    result = audit("verify", str(log))
    assert result.exit_code == 0, result.output
    assert f"{N_RECORDS} records" in result.output and "intact" in result.output


@pytest.mark.parametrize("index", range(N_RECORDS))
def test_verify_edited_record_exits_1_naming_it(log, index):
    lines = log.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[index])
    rec["gate_verdict"] = "pass" if rec["gate_verdict"] != "pass" else "fail"
    lines[index] = (canonical_json(rec) + "\n").encode()
    log.write_bytes(b"".join(lines))
    result = audit("verify", str(log))
    assert result.exit_code == 1
    assert f"line {index + 1} (seq {index + 1})" in result.output


def test_verify_removed_tail_needs_head(log):
    head = read_records(log)[-1]["hash"]
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    assert audit("verify", str(log)).exit_code == 0
    result = audit("verify", str(log), "--head", head)
    assert result.exit_code == 1 and "expected" in result.output


def test_verify_unreadable_exits_2(tmp_path):
    result = audit("verify", str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2
    assert "absent.jsonl" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_to_file_and_stdout(log, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    result = audit("report", str(log), "--run-id", "run-1", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "run-1" in text and "cfg1" in text and "intact" in text
    printed = audit("report", str(log))
    assert printed.exit_code == 0 and "run-4" in printed.output


def test_report_unknown_run_exits_2(log):
    result = audit("report", str(log), "--run-id", "nope")
    assert result.exit_code == 2 and "nope" in result.output


@pytest.mark.parametrize("cmd", [["audit"], ["audit", "verify"], ["audit", "report"]])
def test_help_shows_an_example(cmd):
    result = CliRunner().invoke(main, [*cmd, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
