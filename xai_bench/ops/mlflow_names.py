"""MLflow keys and values: names sanitised to what MLflow accepts (unique after sanitising),
values truncated to its limits, configurations flattened to parameters, secrets scrubbed."""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from .audit import scrub_secrets
from .secrets import redact_text

__all__ = ["TAG_PREFIX", "MAX_KEY", "MAX_PARAM_VALUE", "MAX_TAG_VALUE", "sanitize_name", "unique_keys", "truncate",
           "flatten_config", "jsonable", "numeric", "scrubbed_text"]

TAG_PREFIX = "xai_bench."
MAX_KEY = 250  # MLflow's limit on param, metric and tag keys
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
_TRUNCATED = "...[truncated {n} chars]"
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _path_ok(name: str) -> bool:
    """MLflow's rule: a name must not normalise to another path (``a//b``, ``./a``, ``..``, ``/a``)."""
    norm = posixpath.normpath(name)
    return norm == name and norm != "." and not norm.startswith(("..", "/"))


def sanitize_name(name: str, *, max_len: int = MAX_KEY) -> str:
    """A valid MLflow param/metric/tag key for ``name``.

    Keeps ASCII letters, digits, ``_ - . / space`` (MLflow also allows ``:`` except on Windows,
    and non-ASCII letters; both are replaced, to stay portable); other characters become ``_``.
    A name MLflow would read as a different path (``a//b``, ``./a``, ``../a``, ``/a``) gets
    its slashes replaced. A name that had to change, or is longer than ``max_len``, ends in
    ``_<8 hex>`` (a hash of the original) so that distinct names stay distinct.
    """
    name = str(name)
    clean = _BAD_NAME_CHARS.sub("_", name)
    if not _path_ok(clean):
        clean = clean.replace("/", "_")
        if not _path_ok(clean):  # "", ".", "..", "..x"
            clean = "_" + clean
    if clean != name or len(clean) > max_len:
        suffix = "_" + _short_hash(name)
        clean = clean[: max_len - len(suffix)] + suffix
        if not _path_ok(clean):  # the cut left a trailing "/" or "/." ...
            clean = clean.replace("/", "_")
    return clean


def unique_keys(names: list[str], *, max_len: int = MAX_KEY) -> dict[str, str]:
    """Sanitised key for each name; the rare collisions get the original's hash appended."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        key = sanitize_name(name, max_len=max_len)
        if key in used:
            suffix = "_" + _short_hash(name + "\x00")
            key = key[: max_len - len(suffix)] + suffix
        used.add(key)
        out[name] = key
    return out


def truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    marker = _TRUNCATED.format(n=len(value) - limit)
    return value[: limit - len(marker)] + marker


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def flatten_config(config: Mapping[str, Any], *, sep: str = ".") -> dict[str, str]:
    """Nested mapping -> ``{"a.b.c": "value"}``; lists and scalars become JSON text (strings as-is).

    Secrets are redacted first (``scrub_secrets``). Empty mappings appear as ``"{}"``.
    """
    clean = scrub_secrets(jsonable(config))
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            out[prefix or "config"] = _param_text(value)

    walk("", clean)
    return out


def jsonable(obj: Any) -> Any:
    """Turn YAML scalars that JSON lacks (dates, sets, paths) into strings so scrub_secrets takes them."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def scrubbed_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(jsonable(value), sort_keys=True, default=str)
    return truncate(redact_text(text), MAX_TAG_VALUE)
