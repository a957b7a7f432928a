"""One run's audit record rendered for reviewers (Markdown or self-contained HTML).

``render_report`` reads the log with :mod:`xai_bench.ops.audit`, verifies the chain and shows
the run's metadata, models and weight hashes, data set hashes, metrics and gate verdict.
"""

from __future__ import annotations

import hashlib
import html
import os
from collections.abc import Mapping
from typing import Any, Literal

from .audit import AuditError, VerifyResult, canonical_json, read_records, verify_log
from .runfolder import flatten_metrics

__all__ = ["render_report"]


_HEADER_KEYS = ("run_id", "time", "user", "git_commit", "config_hash", "embedding_model", "seeds", "seq", "hash",
                "prev_hash")
_SECTION_KEYS = {"models", "dataset_hashes", "metrics", "gate_verdict", "prompt_hashes", "response_hashes"}


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return canonical_json(v)
    return str(v)


def _hash_summary(v: Any) -> str:
    if isinstance(v, list):
        digest = hashlib.sha256("\n".join(map(str, v)).encode("utf-8")).hexdigest()
        return f"{len(v)} hashes; digest {digest}"
    if isinstance(v, dict) and "count" in v:
        return f"{v.get('count')} hashes; digest {v.get('sha256', '-')}"
    return _cell(v)


def _sections(rec: Mapping[str, Any], status: VerifyResult, log: str) -> list[tuple[str, list[str], list[list[str]]]]:
    chain = (f"intact ({status.n_records} records, head {status.head_hash})" if status.ok
             else f"BROKEN: {status.reason}")
    secs: list[tuple[str, list[str], list[list[str]]]] = []
    secs.append(("Run", ["field", "value"],
                 [["audit log", log], ["chain status", chain]]
                 + [[k, _cell(rec.get(k))] for k in _HEADER_KEYS if k in rec]))
    models = rec.get("models") or {}
    if isinstance(models, dict):
        rows = []
        for name, info in models.items():
            info = info if isinstance(info, dict) else {"value": info}
            rest = {k: v for k, v in info.items() if k != "weights_sha256"}
            rows.append([name, _cell(info.get("weights_sha256")), _cell(rest) if rest else "-"])
        secs.append(("Models", ["model", "weights sha256", "details"], rows))
    ds = rec.get("dataset_hashes") or {}
    if isinstance(ds, dict):
        secs.append(("Datasets", ["dataset", "content hash"], [[k, _cell(v)] for k, v in ds.items()]))
    secs.append(("Prompts and responses", ["kind", "hashes"],
                 [["prompts", _hash_summary(rec.get("prompt_hashes"))],
                  ["responses", _hash_summary(rec.get("response_hashes"))]]))
    flat = flatten_metrics(rec.get("metrics") or {})
    depth = max((len(k) for k, _ in flat), default=1)
    names = ["model", "dataset", "method", "metric"] if depth == 4 else [f"key {i + 1}" for i in range(depth)]
    secs.append(("Metrics", names + ["value"],
                 [list(k) + [""] * (depth - len(k)) + [_cell(v)] for k, v in flat]))
    gv = rec.get("gate_verdict")
    if isinstance(gv, dict):
        gate_rows = [[k, _cell(v)] for k, v in gv.items() if k != "rows"]
    else:
        gate_rows = [["verdict", _cell(gv)]]
    secs.append(("Drift gate", ["field", "value"], gate_rows))
    other = [[k, _cell(v)] for k, v in rec.items() if k not in _SECTION_KEYS and k not in _HEADER_KEYS]
    if other:
        secs.append(("Other fields", ["field", "value"], other))
    return secs


def _md(title: str, secs: list[tuple[str, list[str], list[list[str]]]]) -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    out = [f"# {esc(title)}", ""]
    for name, header, rows in secs:
        out += [f"## {name}", ""]
        if not rows:
            out += ["(none)", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" for _ in header) + "|")
        out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def _html(title: str, secs: list[tuple[str, list[str], list[list[str]]]], ok: bool) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-family:monospace}"
        ".ok{color:#070}.bad{color:#b00;font-weight:bold}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="{"ok" if ok else "bad"}">Audit chain {"intact" if ok else "BROKEN"}</p>',
    ]
    for name, header, rows in secs:
        out.append(f"<h2>{e(name)}</h2>")
        if not rows:
            out.append("<p>(none)</p>")
            continue
        out.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_report(log_path: str | os.PathLike[str], run_id: str | None = None,
                  fmt: Literal["md", "html"] = "md") -> str:
    """A Markdown or HTML report of one run's record (the last one by default) for reviewers.

    Shows the run metadata, models and weight hashes, datasets and content hashes, prompt
    and response digests, the metrics, the gate verdict and whether the chain is intact.
    """
    if fmt not in ("md", "html"):
        raise ValueError(f"The 'fmt' parameter must be 'md' or 'html'. Got {fmt!r} instead.")
    status = verify_log(log_path)
    records = read_records(log_path)
    if not records:
        raise AuditError(f"{log_path}: the audit log has no records to report.")
    if run_id is None:
        rec = records[-1]
    else:
        matching = [r for r in records if r.get("run_id") == run_id]
        if not matching:
            known = [str(r.get("run_id")) for r in records[-10:]]
            raise AuditError(f"{log_path}: no record with run_id {run_id!r}. Recent run ids: {', '.join(known)}.")
        rec = matching[-1]
    title = f"xai-bench audit report: run {rec.get('run_id', '?')}"
    secs = _sections(rec, status, str(log_path))
    return _md(title, secs) if fmt == "md" else _html(title, secs, status.ok)
