"""The audit log's head kept elsewhere (``--head``): a forged last record is reported as forged,
not as "records removed from or added to the end" (issue 12, item 5); and the check that a run
can extend the log before its first model call (issue 12, item 4)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xai_bench.cli import main
from xai_bench.ops.audit import (AuditError, append_record, canonical_json, check_appendable, parse_head,
                                 read_records, record_hash, verify_log)
from tests.ops.test_audit import N_RECORDS, payload


from tests.cli.test_audit_cli import log  # noqa: E402,F401 - the fixture: a valid log of N_RECORDS records


def forge_last(log) -> dict:
    """Edit the last record and re-hash it: the chain alone stays valid."""
    lines = log.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[-1])
    rec["gate_verdict"] = "pass" if rec["gate_verdict"] != "pass" else "fail"
    rec["hash"] = record_hash(rec)
    lines[-1] = (canonical_json(rec) + "\n").encode()
    log.write_bytes(b"".join(lines))
    return rec


def verify(*args):
    return CliRunner().invoke(main, ["audit", "verify", *args])


def test_a_forged_last_record_is_reported_as_forged(log):
    head = read_records(log)[-1]["hash"]
    forge_last(log)
    assert verify_log(log).ok  # the chain alone cannot see it
    for expected in (head, f"{N_RECORDS}:{head}"):
        result = verify_log(log, expected_head=expected)
        assert not result.ok and "forged" in result.reason, result.reason
        assert "removed from or added to the end" not in result.reason
    exact = verify_log(log, expected_head=f"{N_RECORDS}:{head}")
    assert exact.first_bad_seq == N_RECORDS and exact.first_bad_line == N_RECORDS
    assert "removed" not in exact.reason  # with the seq there is no doubt left
    r = verify(str(log), "--head", f"{N_RECORDS}:{head}")
    assert r.exit_code == 1 and "forged" in r.output and f"line {N_RECORDS}" in r.output, r.output


def test_removed_and_added_tails_are_told_apart_from_forgery(log):
    records = read_records(log)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-2]))  # two records removed from the end
    removed = verify_log(log, expected_head=f"{N_RECORDS}:{records[-1]['hash']}")
    assert not removed.ok and "removed from the end" in removed.reason and "forged" not in removed.reason
    log.write_bytes(b"".join(lines))
    append_record(log, payload(99))  # one record added after the head
    added = verify_log(log, expected_head=records[-1]["hash"])
    assert not added.ok and "1 record(s) were added after the expected head" in added.reason
    assert verify_log(log, expected_head=read_records(log)[-1]["hash"]).ok


@pytest.mark.parametrize("bad", ["nothex", "0:" + "a" * 64, "x:" + "a" * 64, "a" * 63])
def test_a_malformed_head_is_an_input_error(log, bad):
    with pytest.raises(AuditError, match="SEQ:HASH"):
        parse_head(bad)
    r = verify(str(log), "--head", bad)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_check_appendable_before_the_work(tmp_path, log):
    assert check_appendable(log) == log
    fresh = tmp_path / "new" / "audit.jsonl"
    assert check_appendable(fresh) == fresh and not fresh.exists()  # nothing written
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(AuditError, match="folder"):
        check_appendable(blocker / "audit.jsonl")
    with pytest.raises(AuditError, match="directory"):
        check_appendable(tmp_path)
    log.write_bytes(log.read_bytes()[:-5])  # a torn last record
    with pytest.raises(AuditError, match="incomplete"):
        check_appendable(log)
