"""An append-only, hash-chained audit log of benchmark runs (JSON Lines).

Every run appends one record::

    {"seq": 1, "prev_hash": "000...0", "time": "2025-01-01T00:00:00Z", "user": "ci",
     "run_id": ..., "git_commit": ..., "config_hash": ..., "dataset_hashes": {name: sha256},
     "models": {name: {"weights_sha256": ...}}, "embedding_model": ..., "seeds": [...],
     "prompt_hashes": [...] or {"count": n, "sha256": digest}, "response_hashes": ...,
     "metrics": {...}, "gate_verdict": ..., "hash": "<sha256>"}

Chain
-----
Each line is the record's canonical JSON (``sort_keys=True``, ``separators=(",", ":")``,
ASCII only). ``hash`` is the SHA-256 of the canonical JSON of the record without ``hash``;
``prev_hash`` is the ``hash`` of the record before (64 zeros for the first); ``seq`` counts
from 1. ``verify_log`` recomputes all of it, so an edited, removed, inserted or reordered
record breaks the chain at or right after the change. Removing the *last* records leaves a
valid shorter chain, and a forged (edited and re-hashed) *last* record leaves a valid chain
too: keep the head elsewhere (``record_audit`` tags the MLflow run with its hash and seq) and
pass it as ``expected_head`` ("SEQ:HASH", or the hash alone). With the seq, a mismatch is told
apart exactly: records removed from the end, added after it, or the head record forged; with
the hash alone, a head found earlier in the log means records were added, otherwise the last
record was forged or replaced, or the tail removed (the hash alone cannot tell these two apart).

Secrets
-------
``append_record`` replaces with ``"[REDACTED]"`` the value of every secret-named key and
every substring that looks like an API key, as :mod:`xai_bench.ops.secrets` defines them
(so ``max_new_tokens`` stays, ``HF_TOKEN`` goes).
Non-finite floats (NaN, inf) are stored as null, since JSON has no spelling for them.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import getpass
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import XaiBenchError
from .secrets import REDACTED, key_is_secret, redact_text

__all__ = [
    "GENESIS_HASH",
    "REDACTED",
    "AuditError",
    "AuditRecord",
    "VerifyResult",
    "append_record",
    "canonical_json",
    "check_appendable",
    "parse_head",
    "read_records",
    "record_hash",
    "scrub_secrets",
    "sha256_file",
    "text_hashes",
    "verify_log",
]

GENESIS_HASH = "0" * 64
_RESERVED = ("seq", "prev_hash", "hash")



class AuditError(XaiBenchError):
    """The audit log cannot be read or extended; the message names the file and the problem."""


# ---------------------------------------------------------------------------- hashing


def canonical_json(obj: Any) -> str:
    """The canonical JSON text that hashes are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``record`` without its ``hash`` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 hex of a file's bytes (model weights, dataset files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def text_hashes(texts: Iterable[str], *, inline_limit: int | None = None) -> list[str] | dict[str, Any]:
    """SHA-256 hex of each text (UTF-8); above ``inline_limit`` texts, one digest of them all.

    The digest form is ``{"count": n, "sha256": sha256 of the newline-joined hashes}``, so a
    reviewer holding the texts can recompute it.
    """
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    if inline_limit is not None and len(hashes) > inline_limit:
        return {"count": len(hashes), "sha256": hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()}
    return hashes


# ---------------------------------------------------------------------------- secrets


def scrub_secrets(obj: Any) -> Any:
    """A copy of ``obj`` with secret-named keys' values and key-like strings redacted.

    Also turns tuples into lists and non-finite floats into None (JSON cannot hold them).
    """
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise AuditError(f"audit payload keys must be strings. Got {k!r} ({type(k).__name__}).")
            key = redact_text(k)
            out[key] = REDACTED if key_is_secret(k) else scrub_secrets(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [scrub_secrets(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    raise AuditError(
        f"audit payload values must be JSON data (dict, list, str, number, bool, None). "
        f"Got {type(obj).__name__}: {obj!r:.60}; convert it first (e.g. str() a path)."
    )


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """The payload of one run's audit record; ``to_payload()`` gives what ``append_record`` takes."""

    run_id: str
    git_commit: str | None = None
    config_hash: str | None = None
    dataset_hashes: dict[str, str] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    embedding_model: str | None = None
    seeds: list[int] | int | None = None
    prompt_hashes: list[str] | dict[str, Any] = field(default_factory=list)
    response_hashes: list[str] | dict[str, Any] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    gate_verdict: str | dict[str, Any] | None = None
    user: str | None = None
    time: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not self.run_id:
            raise ValueError(f"The 'run_id' parameter must be a non-empty string. Got {self.run_id!r} instead.")
        clash = set(self.extra) & (set(_RESERVED) | {f for f in self.__dataclass_fields__ if f != "extra"})
        if clash:
            raise ValueError(f"The 'extra' parameter must not repeat record fields. Got {sorted(clash)}.")

    def to_payload(self) -> dict[str, Any]:
        payload = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        payload = {k: v for k, v in payload.items() if not (k in ("user", "time") and v is None)}
        payload.update(self.extra)
        return payload


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _last_line(fd: int) -> bytes:
    """The last line of an open file (without its newline), reading backwards in blocks."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return b""
    buf = b""
    pos = end
    while pos > 0:
        step = min(8192, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        body = buf[:-1] if buf.endswith(b"\n") else buf
        if b"\n" in body:
            return body.rsplit(b"\n", 1)[1]
    return buf[:-1] if buf.endswith(b"\n") else buf


def _next_link(path: Path, fd: int) -> tuple[int, str]:
    """(seq, prev_hash) of the record to append after the log open at ``fd``; AuditError when
    its last record is incomplete or fails its hash check (a damaged chain is not extended)."""
    last = _last_line(fd)
    if not last:
        return 1, GENESIS_HASH
    size = os.lseek(fd, 0, os.SEEK_END)
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditError(f"{path}: the last record is incomplete (no trailing newline); run 'xai-bench audit verify'.")
    try:
        prev = json.loads(last.decode("ascii"))
        ok = isinstance(prev, dict) and isinstance(prev.get("seq"), int) and prev.get("hash") == record_hash(prev)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        ok = False
    if not ok:
        raise AuditError(f"{path}: the last record fails its hash check; refusing to extend a damaged chain. "
                         "Run 'xai-bench audit verify' to find the first bad record.")
    return prev["seq"] + 1, prev["hash"]


def check_appendable(log_path: str | os.PathLike[str]) -> Path:
    """Check, without writing, that ``append_record`` could extend the log (folder writable, file
    writable, last record intact), before a run's first model call; AuditError names the problem."""
    path = Path(os.path.abspath(os.path.expanduser(str(log_path))))
    if path.is_dir():
        raise AuditError(f"{path}: is a directory, not an audit log file. Set XAI_BENCH_AUDIT_LOG to a file path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AuditError(f"{path}: cannot create the audit log's folder: {e.strerror or e}") from e
    if not path.exists():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise AuditError(f"{path}: the audit log's folder {path.parent} is not writable. "
                             "Fix its permissions or set XAI_BENCH_AUDIT_LOG to another file.")
        return path
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except OSError as e:
        raise AuditError(f"{path}: cannot open the audit log for appending: {e.strerror or e}. "
                         "Fix its permissions or set XAI_BENCH_AUDIT_LOG to another file.") from e
    try:
        _next_link(path, fd)
    finally:
        os.close(fd)
    return path


def append_record(log_path: str | os.PathLike[str], payload: Mapping[str, Any] | AuditRecord) -> dict[str, Any]:
    """Append one record to the log (created if absent) and return it as written.

    Computes ``seq``, ``prev_hash`` and ``hash``; fills ``time`` (UTC) and ``user`` when the
    payload has none; redacts secrets. An exclusive ``fcntl`` lock on the log makes
    concurrent appends from several processes safe. Refuses to extend a log whose last
    record is damaged (run ``verify_log`` to find out where).
    """
    if isinstance(payload, AuditRecord):
        payload = payload.to_payload()
    if not isinstance(payload, Mapping):
        raise AuditError(f"audit payload must be a mapping. Got {type(payload).__name__}.")
    reserved = [k for k in _RESERVED if k in payload]
    if reserved:
        raise AuditError(f"audit payload must not set {reserved}: append_record computes them.")
    body = scrub_secrets(payload)
    body.setdefault("time", _utc_now())
    body.setdefault("user", _current_user())

    path = Path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as e:
        raise AuditError(f"{path}: cannot open the audit log for appending: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        seq, prev_hash = _next_link(path, fd)
        record = {"seq": seq, "prev_hash": prev_hash, **body}
        record["hash"] = record_hash(record)
        line = (canonical_json(record) + "\n").encode("ascii")
        os.write(fd, line)
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return record


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """Outcome of ``verify_log``. On failure, ``first_bad_line`` (1-based) names the first bad record."""

    ok: bool
    n_records: int
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    reason: str = ""
    head_hash: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise AuditError(f"{path}: audit log not found.") from e
    except IsADirectoryError as e:
        raise AuditError(f"{path}: is a directory, not an audit log file.") from e
    except OSError as e:
        raise AuditError(f"{path}: cannot read the audit log: {e.strerror or e}") from e


def _split_lines(data: bytes) -> list[bytes]:
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def parse_head(expected_head: str) -> tuple[int | None, str]:
    """``"SEQ:HASH"`` or ``"HASH"`` -> (seq or None, hash); AuditError when malformed."""
    seq_text, sep, digest = expected_head.strip().rpartition(":")
    digest = digest.lower()
    ok = len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    if sep and not (seq_text.isdigit() and int(seq_text) >= 1):
        ok = False
    if not ok:
        raise AuditError(f"The expected head must be a record hash (64 hex digits) or SEQ:HASH (e.g. "
                         f"'3:{'0' * 8}...'). Got {expected_head!r} instead.")
    return (int(seq_text) if sep else None), digest


def _head_mismatch(hashes: list[str], seq: int | None, digest: str) -> VerifyResult:
    """The verdict on an intact chain whose head is not the expected one (module docstring)."""
    n = len(hashes)
    head = hashes[-1] if hashes else None

    def fail(reason: str, bad_seq: int | None = None) -> VerifyResult:
        return VerifyResult(ok=False, n_records=n, first_bad_seq=bad_seq, first_bad_line=bad_seq, head_hash=head,
                            reason=reason)
    if digest in hashes[:-1]:
        k = hashes.index(digest) + 1
        return fail(f"{n - k} record(s) were added after the expected head (seq {k}, hash {digest})")
    if seq is not None and n < seq:
        return fail(f"records were removed from the end: the log ends at seq {n}, the expected head is seq {seq} "
                    f"(hash {digest})")
    if seq is not None:
        return fail(f"the record at seq {seq} was forged or replaced: its hash is {hashes[seq - 1]}, the head kept "
                    f"elsewhere says {digest}" + (f" ({n - seq} record(s) follow it)" if n > seq else ""), seq)
    return fail(f"the last record (seq {n}) was forged or replaced, or records were removed from the end: its hash "
                f"is {head}, expected {digest}, which no record of the log has (give the head as SEQ:HASH to tell "
                "these apart)", n or None)


def verify_log(path: str | os.PathLike[str], *, expected_head: str | None = None) -> VerifyResult:
    """Check every record's form, hash, sequence number and link to the record before.

    ``expected_head``: the head kept elsewhere, ``"SEQ:HASH"`` or the last record's hash alone;
    detects removed or added tail records and a forged (edited and re-hashed) last record
    (module docstring). Raises AuditError when the file cannot be read or the head is malformed.
    """
    head_seq, head_digest = parse_head(expected_head) if expected_head is not None else (None, None)
    p = Path(path)
    data = _read_bytes(p)
    lines = _split_lines(data)
    prev_hash, n = GENESIS_HASH, 0
    hashes: list[str] = []

    def bad(lineno: int, seq: Any, reason: str) -> VerifyResult:
        return VerifyResult(ok=False, n_records=n, first_bad_seq=seq if isinstance(seq, int) else None,
                            first_bad_line=lineno, reason=reason, head_hash=prev_hash if n else None)

    for lineno, raw in enumerate(lines, start=1):
        expected_seq = lineno
        try:
            text = raw.decode("ascii")
            rec = json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            return bad(lineno, None, f"line {lineno} is not a valid JSON record ({type(e).__name__})")
        if not isinstance(rec, dict):
            return bad(lineno, None, f"line {lineno} is not a JSON object")
        seq = rec.get("seq")
        try:
            canonical = canonical_json(rec)
        except ValueError:
            canonical = None
        if canonical != text:
            return bad(lineno, seq, f"record at line {lineno} is not in canonical form (edited by hand?)")
        if not isinstance(rec.get("hash"), str) or rec["hash"] != record_hash(rec):
            return bad(lineno, seq, f"record at line {lineno} does not match its hash (content edited)")
        if seq != expected_seq:
            return bad(lineno, seq, f"record at line {lineno} has seq {seq!r}, expected {expected_seq} "
                                    "(records removed, inserted or reordered)")
        if rec.get("prev_hash") != prev_hash:
            return bad(lineno, seq, f"record at line {lineno} does not link to the record before it "
                                    "(records removed, inserted, reordered or re-hashed)")
        prev_hash, n = rec["hash"], n + 1
        hashes.append(prev_hash)
    head = prev_hash if n else None
    if head_digest is not None and (head != head_digest or (head_seq is not None and head_seq != n)):
        return _head_mismatch(hashes, head_seq, head_digest)
    return VerifyResult(ok=True, n_records=n, head_hash=head)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of the log that parses as a JSON object, in file order (no chain check)."""
    out = []
    for raw in _split_lines(_read_bytes(Path(path))):
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
