"""The run folder: where each stage writes, atomically, and how names become file names.

Layout (every path is inside the run folder, so a retry of a task never touches
another run)::

    run.json               run id, creation time, config hash, seed, git commit, data hashes, notes
    config.json            the resolved configuration (BenchmarkConfig.to_dict())
    shards/<shard>.json    model, data set and rows of one shard          (prepare)
    perturb/<shard>.json   masks and texts of every perturbation set      (perturb)
    query/<shard>.json     model responses per perturbation set           (query)
    distances/<shard>.json input/output distances per perturbation set    (distances)
    fit/<shard>.json       explanations, per-prompt metrics, task answers (fit)
    metrics.json  per_prompt.csv  task_answers.csv  report.md  heatmaps/   (aggregate)
    responses.sqlite       the response cache when the configuration says ``cache: run``

Writes go to a temporary file in the same folder, then ``os.replace``: a reader sees the
old file or the complete new one, never half of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ..secrets import redact_known

__all__ = ["STAGES", "stage_path", "write_json", "read_json", "write_text", "slug", "derive_seed", "finite_or_none"]

STAGES = ("shards", "perturb", "query", "distances", "fit")


def stage_path(run_dir: str | Path, stage: str, shard_id: str) -> Path:
    """``run_dir/<stage>/<shard_id>.json``."""
    if stage not in STAGES:
        raise ValueError(f"Unknown stage folder {stage!r}. Available: {', '.join(STAGES)}.")
    return Path(run_dir) / stage / f"{shard_id}.json"


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically: temporary file in the same folder, then rename.
    Known credentials are redacted first (:func:`xai_bench.secrets.redact_known`)."""
    path, text = Path(path), redact_known(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any, *, sort_keys: bool = True) -> Path:
    """Write JSON (sorted keys unless told otherwise; NaN refused) atomically."""
    text = json.dumps(data, indent=1, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
    return write_text(path, text + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: the stage that writes it has not run yet. Run the stages in order "
            "(prepare, perturb, query, distances, fit, aggregate) or `xai-bench run`."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def slug(text: str, *, hashed: bool = False) -> str:
    """A file-name-safe form of ``text``; ``hashed`` appends 6 hex digits of its sha256 so
    that different strings never share a slug (``oracle:@rationale`` -> ``oracle-rationale-1a2b3c``)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"
    if hashed:
        s = f"{s[:60]}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:6]}"
    return s


def derive_seed(seed: int, *labels: object) -> int:
    """A seed in [0, 2^31) derived from the master seed and labels (stable across runs and machines)."""
    blob = "|".join([str(seed), *map(str, labels)])
    return int(hashlib.sha256(blob.encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF


def finite_or_none(v: Any) -> float | None:
    """``float(v)`` when it is a finite number, else None (JSON has no NaN)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
