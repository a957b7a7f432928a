"""``load_dataset``: parse a JSON Lines data set, report unreadable rows by line, validate the rest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import DataValidationError
from .records import Dataset, Example, row_problems
from .validation import ValidationFailure, ValidationReport, require_valid

__all__ = ["load_dataset"]


def load_dataset(path: str | Path, *, validate: bool = True, name: str | None = None) -> Dataset:
    """Load a JSON Lines data set; raise DataValidationError naming every bad row.

    Unreadable rows (bad JSON, blank line, missing or unknown keys, wrong types) are
    reported by line number; with ``validate`` (the default) the readable rows then go
    through the Great Expectations suite of the data set, and all failures come back in
    one report. ``name`` defaults to the file name without ``.jsonl``.
    """
    path = Path(path)
    name = name or path.name.removesuffix(".jsonl")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataValidationError(f"Cannot read data set {name!r} at {path}: {e.strerror}. Run `python -m xai_bench.datasets prepare` to build it.") from e
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    examples: list[Example] = []
    lines: list[int] = []
    failures: dict[str, list[tuple[int, str, str]]] = {}
    for lineno, chunk in enumerate(chunks, start=1):
        kind, detail, row = _parse_line(chunk)
        if kind is None:
            problems = row_problems(row)
            if not problems:
                examples.append(Example.from_dict(row))
                lines.append(lineno)
                continue
            kind, detail = ("row_schema", "; ".join(problems))
        row_id = row.get("id") if isinstance(row, Mapping) and isinstance(row.get("id"), str) else "?"
        failures.setdefault(kind, []).append((lineno, row_id, detail))
    ds = Dataset(name=name, examples=tuple(examples), sha256=hashlib.sha256(data).hexdigest(), path=path, lines=tuple(lines))
    parse_failures = [
        ValidationFailure(
            expectation=kind,
            description=_PARSE_DESCRIPTIONS[kind],
            ids=tuple(r[1] for r in rows),
            lines=tuple(r[0] for r in rows),
            details=tuple(r[2] for r in rows),
        )
        for kind, rows in failures.items()
    ]
    if parse_failures and not validate:
        report = ValidationReport(name=name, n_rows=len(chunks), failures=tuple(parse_failures))
        raise DataValidationError(report.format(), report)
    if validate:
        require_valid(ds, name, extra_failures=parse_failures, n_rows=len(chunks))
    return ds


_PARSE_DESCRIPTIONS = {
    "parse_json": "every line is one JSON object (no blank lines, valid UTF-8 JSON)",
    "row_schema": "every row has exactly the schema keys with the right types (see data/README.md)",
}


def _parse_line(chunk: bytes) -> tuple[str | None, str, Any]:
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as e:
        return "parse_json", f"not UTF-8: {e.reason} at byte {e.start}", None
    if not text.strip():
        return "parse_json", "blank line", None
    try:
        return None, "", json.loads(text)
    except json.JSONDecodeError as e:
        return "parse_json", f"invalid JSON: {e.msg} at column {e.colno}", None
