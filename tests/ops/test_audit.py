"""The hash-chained audit log: appending, tamper detection, secret scrubbing, concurrency, reports."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xai_bench.ops.audit import (
    GENESIS_HASH,
    REDACTED,
    AuditError,
    AuditRecord,
    append_record,
    canonical_json,
    read_records,
    record_hash,
    scrub_secrets,
    text_hashes,
    verify_log,
)
from xai_bench.ops.audit_report import render_report

N_RECORDS = 5


def payload(i: int) -> dict:
    return AuditRecord(
        run_id=f"run-{i}",
        git_commit="0123abcd",
        config_hash=f"cfg{i}",
        dataset_hashes={"rationales": "d" * 64},
        models={"local/smollm2-135m": {"weights_sha256": "w" * 64}, "oracle:meaning,life": {"weights_sha256": None}},
        embedding_model="all-MiniLM-L6-v2",
        seeds=[0, i],
        prompt_hashes=text_hashes([f"prompt {i}", "what is the meaning of life ?"]),
        response_hashes=text_hashes([f"response {j}" for j in range(10)], inline_limit=3),
        metrics={"local/smollm2-135m": {"rationales": {"gsmile": {"att_auroc": 0.9 - i / 100, "seconds": 1.5e-05}}}},
        gate_verdict="pass" if i % 2 else {"passed": False, "counts": {"pass": 3, "fail": 1}},
        user="tester",
    ).to_payload()


@pytest.fixture
def log(tmp_path) -> Path:
    path = tmp_path / "audit" / "log.jsonl"
    for i in range(N_RECORDS):
        append_record(path, payload(i))
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_chain_fields_and_untouched_log_verifies(log):
    records = read_records(log)
    assert [r["seq"] for r in records] == list(range(1, N_RECORDS + 1))
    assert records[0]["prev_hash"] == GENESIS_HASH
    for prev, rec in zip(records, records[1:]):
        assert rec["prev_hash"] == prev["hash"]
    for rec in records:
        assert rec["hash"] == record_hash(rec)
        assert rec["time"].endswith("Z") and rec["user"] == "tester"
    result = verify_log(log)
    assert result.ok and result.n_records == N_RECORDS and result.head_hash == records[-1]["hash"]
    assert verify_log(log, expected_head=records[-1]["hash"]).ok


def test_empty_log_verifies(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    assert verify_log(p).ok and verify_log(p).n_records == 0


def test_append_returns_what_it_wrote(tmp_path):
    p = tmp_path / "log.jsonl"
    rec = append_record(p, {"run_id": "x", "time": "2025-01-01T00:00:00Z", "user": "u"})
    assert p.read_text() == canonical_json(rec) + "\n"
    assert rec["seq"] == 1 and rec["prev_hash"] == GENESIS_HASH


def _edit_field(rec: dict) -> dict:
    rec = dict(rec)
    rec["metrics"] = {"local/smollm2-135m": {"rationales": {"gsmile": {"att_auroc": 0.99}}}}
    return rec


@pytest.mark.parametrize("index", range(N_RECORDS))
def test_editing_any_record_is_detected(log, index):
    lines = lines_of(log)
    rec = json.loads(lines[index])
    lines[index] = (canonical_json(_edit_field(rec)) + "\n").encode()
    log.write_bytes(b"".join(lines))
    result = verify_log(log)
    assert not result.ok
    assert result.first_bad_line == index + 1 and result.first_bad_seq == index + 1
    assert "hash" in result.reason


@pytest.mark.parametrize("index", range(N_RECORDS - 1))
def test_editing_and_rehashing_a_record_breaks_the_next_link(log, index):
    lines = lines_of(log)
    rec = _edit_field(json.loads(lines[index]))
    rec["hash"] = record_hash(rec)
    lines[index] = (canonical_json(rec) + "\n").encode()
    log.write_bytes(b"".join(lines))
    result = verify_log(log)
    assert not result.ok and result.first_bad_line == index + 2
    assert "link" in result.reason


@pytest.mark.parametrize("index", range(N_RECORDS))
def test_deleting_any_record_is_detected(log, index):
    lines = lines_of(log)
    head = json.loads(lines[-1])["hash"]
    del lines[index]
    log.write_bytes(b"".join(lines))
    result = verify_log(log, expected_head=head)
    assert not result.ok
    if index < N_RECORDS - 1:
        assert result.first_bad_line == index + 1
        assert not verify_log(log).ok  # no anchor needed inside the chain
    else:
        assert "expected" in result.reason  # only the head anchor shows a removed tail


@pytest.mark.parametrize(("i", "j"), [(0, 1), (1, 3), (2, 4), (0, 4)])
def test_swapping_two_records_is_detected(log, i, j):
    lines = lines_of(log)
    lines[i], lines[j] = lines[j], lines[i]
    log.write_bytes(b"".join(lines))
    result = verify_log(log)
    assert not result.ok and result.first_bad_line == i + 1
    assert "seq" in result.reason


def test_inserting_a_forged_record_is_detected(log):
    lines = lines_of(log)
    forged = json.loads(lines[1])
    forged["run_id"] = "forged"
    forged["hash"] = record_hash(forged)
    lines.insert(2, (canonical_json(forged) + "\n").encode())
    log.write_bytes(b"".join(lines))
    result = verify_log(log)
    assert not result.ok and result.first_bad_line == 3


def test_reformatted_record_is_detected(log):
    lines = lines_of(log)
    lines[2] = (json.dumps(json.loads(lines[2]), indent=1).replace("\n", " ") + "\n").encode()
    log.write_bytes(b"".join(lines))
    result = verify_log(log)
    assert not result.ok and result.first_bad_line == 3 and "canonical" in result.reason


def test_equivalent_spelling_of_a_number_is_detected(log):
    """'1.5e-05' -> '1.5E-05' parses to the same float, so only the canonical-form check sees it."""
    data = log.read_bytes()
    assert data.count(b"1.5e-05") == N_RECORDS
    log.write_bytes(data.replace(b"1.5e-05", b"1.5E-05", 1))
    result = verify_log(log)
    assert not result.ok and result.first_bad_line == 1 and "canonical" in result.reason


def test_blank_and_garbage_lines_are_detected(log):
    data = log.read_bytes()
    log.write_bytes(data + b"\n")
    assert verify_log(log).first_bad_line == N_RECORDS + 1
    log.write_bytes(data + b"not json\n")
    assert verify_log(log).first_bad_line == N_RECORDS + 1


def test_unreadable_log_raises(tmp_path):
    with pytest.raises(AuditError, match="not found"):
        verify_log(tmp_path / "absent.jsonl")
    with pytest.raises(AuditError, match="directory"):
        verify_log(tmp_path)


def test_append_refuses_damaged_tail(log):
    lines = lines_of(log)
    lines[-1] = lines[-1].replace(b"tester", b"mallory")
    log.write_bytes(b"".join(lines))
    with pytest.raises(AuditError, match="damaged chain"):
        append_record(log, payload(9))


def test_append_rejects_reserved_keys_and_non_json(tmp_path):
    with pytest.raises(AuditError, match="must not set"):
        append_record(tmp_path / "l.jsonl", {"run_id": "x", "hash": "0"})
    with pytest.raises(AuditError, match="JSON data"):
        append_record(tmp_path / "l.jsonl", {"run_id": "x", "path": Path("/tmp")})


# ---------------------------------------------------------------------------- secrets

SECRETS = {
    "api_key": "plain-secret-value-1",
    "OPENAI_API_KEY": "plain-secret-value-2",
    "nested": {"litellm": {"apiKey": "plain-secret-value-3", "HF_TOKEN": "plain-secret-value-4"},
               "list": [{"password": "plain-secret-value-5"}, {"client_secret": "plain-secret-value-6"}]},
    "Authorization": "Bearer plain-secret-value-7",
    "note": "called with sk-proj-ABCDEFGHIJKLMNOP1234567890 by mistake",
    "headers": ["x", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"],
    "aws": "AKIAABCDEFGHIJKLMNOP",
}


def test_secrets_never_reach_the_file(tmp_path):
    p = tmp_path / "log.jsonl"
    extra = {"max_new_tokens": 64, "task-name": "task-classification-long"}
    rec = append_record(p, {"run_id": "s", "config": SECRETS, **extra})
    text = p.read_text()
    assert "plain-secret-value" not in text
    assert "sk-proj" not in text and "sk-ant" not in text and "AKIAABCDEFGHIJKLMNOP" not in text
    assert REDACTED in text
    cfg = rec["config"]
    assert cfg["api_key"] == REDACTED and cfg["nested"]["litellm"]["HF_TOKEN"] == REDACTED
    assert cfg["note"] == f"called with {REDACTED} by mistake"
    # lookalikes stay: token counts are not tokens, and 'task-' is not an 'sk-' key
    assert rec["max_new_tokens"] == 64 and rec["task-name"] == "task-classification-long"
    assert verify_log(p).ok


@pytest.mark.parametrize("key", ["token", "access_token", "secretKey", "DB_PASSWORD", "x-api-key", "credentials"])
def test_secret_key_names(key):
    assert scrub_secrets({key: "v"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["max_new_tokens", "tokenizer", "n_tokens", "prompt_hashes", "keyword"])
def test_non_secret_key_names(key):
    assert scrub_secrets({key: "v"}) == {key: "v"}


def test_non_finite_floats_become_null(tmp_path):
    rec = append_record(tmp_path / "l.jsonl", {"run_id": "n", "metrics": {"a": float("nan"), "b": float("inf")}})
    assert rec["metrics"] == {"a": None, "b": None}


# ---------------------------------------------------------------------------- concurrency


def _append_many(path: str, worker: int, n: int, start) -> None:
    start.wait()  # every worker begins together, so their appends contend for the lock
    for k in range(n):
        append_record(path, {"run_id": f"w{worker}-{k}", "metrics": {"x": k}, "user": f"w{worker}"})


def test_concurrent_appends_from_processes_keep_the_chain(tmp_path):
    path = str(tmp_path / "log.jsonl")
    ctx = mp.get_context("spawn")
    workers, per_worker = 6, 60
    start = ctx.Event()
    procs = [ctx.Process(target=_append_many, args=(path, w, per_worker, start)) for w in range(workers)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    result = verify_log(path)
    assert result.ok, result.reason
    assert result.n_records == workers * per_worker
    expected = sorted(f"w{w}-{k}" for w in range(workers) for k in range(per_worker))
    assert sorted(r["run_id"] for r in read_records(path)) == expected


# ---------------------------------------------------------------------------- property


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_edit_is_detected(log, data):
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1), label="record")
    line = bytearray(lines[index][:-1])  # the record's JSON, not its newline
    pos = data.draw(st.integers(0, len(line) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != line[pos]), label="value")
    line[pos] = new
    lines[index] = bytes(line) + b"\n"
    try:
        log.write_bytes(b"".join(lines))
        result = verify_log(log)
        assert not result.ok
        assert result.first_bad_line == index + 1
    finally:
        log.write_bytes(original)


# ---------------------------------------------------------------------------- report


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_shows_the_last_run_by_default(log, fmt):
    text = render_report(log, fmt=fmt)
    last = read_records(log)[-1]
    for needle in ("run-4", last["hash"], "w" * 64, "d" * 64, "all-MiniLM-L6-v2", "att_auroc", "local/smollm2-135m",
                   "oracle:meaning,life", "intact", "10 hashes"):
        assert needle in text, needle
    if fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "<table>" in text
    else:
        assert text.startswith("# xai-bench audit report: run run-4")


def test_report_of_a_named_run_and_broken_chain(log):
    lines = lines_of(log)
    lines[1] = lines[1].replace(b"cfg1", b"cfgX")
    log.write_bytes(b"".join(lines))
    text = render_report(log, run_id="run-2")
    assert "run-2" in text and "cfg2" in text and "BROKEN" in text
    with pytest.raises(AuditError, match="no record with run_id 'nope'"):
        render_report(log, run_id="nope")


def test_report_escapes_html(tmp_path):
    p = tmp_path / "l.jsonl"
    append_record(p, {"run_id": "<script>alert(1)</script>", "user": "u"})
    text = render_report(p, fmt="html")
    assert "<script>" not in text and "&lt;script&gt;" in text
