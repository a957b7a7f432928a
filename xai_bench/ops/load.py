"""A finished run as pandas tables, for notebooks: ``xai_bench.load_run(source)``.

``source`` is a run folder, its ``metrics.json`` (``per_prompt.csv`` beside it), or an
MLflow run (``mlflow:<run_id>``, ``runs:/<run_id>``; read from ``MLFLOW_TRACKING_URI``).
Reading and validation are ``ops.runfolder``'s (``GateInputError`` names the file and the
problem); this module only reshapes:

- ``per_prompt``: ``per_prompt.csv`` as a DataFrame (id columns as text, metrics as floats,
  NaN = undefined for that prompt);
- ``aggregate``: ``metrics.json``'s ``results`` long, one row per (model, dataset, method,
  metric) with ``value``, ``n``, ``ci_low``/``ci_high`` (from 10 prompts on) and
  ``min``/``max`` (below 10), NaN where absent;
- ``paired``: the same for the ``paired`` differences (method is ``"<method> - <baseline>"``);
- ``metrics``: the raw ``metrics.json`` document.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import runfolder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "load_run", "AGGREGATE_COLUMNS"]

# metric-key suffix in metrics.json -> column of ``aggregate``
_SUFFIXES = {"_ci_low": "ci_low", "_ci_high": "ci_high", "_min": "min", "_max": "max", "_n": "n"}
AGGREGATE_COLUMNS = ("model", "dataset", "method", "metric", "value", "n", "ci_low", "ci_high", "min", "max")


@dataclass(frozen=True)
class RunResult:
    """One run: ``per_prompt`` and ``aggregate`` DataFrames, the ``paired`` differences, the raw ``metrics``."""

    per_prompt: "pd.DataFrame"
    aggregate: "pd.DataFrame"
    paired: "pd.DataFrame"
    metrics: dict[str, Any]
    source: str

    @property
    def run_id(self) -> str | None:
        return (self.metrics.get("run") or {}).get("run_id")


def _long(results: Mapping[str, Any]) -> "pd.DataFrame":
    import pandas as pd

    rows = []
    for model, datasets in results.items():
        for dataset, methods in datasets.items():
            for method, values in methods.items():
                names = sorted(k for k in values if not _split(k, values))
                for m in names:
                    row: dict[str, Any] = {"model": model, "dataset": dataset, "method": method, "metric": m,
                                           "value": values[m]}
                    for suffix, col in _SUFFIXES.items():
                        row[col] = values.get(m + suffix)
                    rows.append(row)
    df = pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))
    for c in ("value", "ci_low", "ci_high", "min", "max"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["n"] = pd.to_numeric(df["n"], errors="coerce").astype("Int64")
    return df


def _split(key: str, values: Mapping[str, Any]) -> bool:
    """True when ``key`` is a suffix column (``<m>_n``, ...) of a metric ``<m>`` present in ``values``."""
    return any(key.endswith(s) and key[: -len(s)] in values for s in _SUFFIXES)


def _per_prompt_frame(path: Path, metric_cols: tuple[str, ...]) -> "pd.DataFrame":
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in (*metric_cols, "n_words", "n_rationale"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)  # "" -> NaN
    return df


def load_run(source: str | os.PathLike[str]) -> RunResult:
    """Read a run (folder, ``metrics.json`` or ``mlflow:<run_id>``) into a :class:`RunResult`."""
    name = os.fspath(source)
    data = runfolder.load_run(name)  # validates both files and that they belong together
    metric_cols = data.per_prompt.metrics
    if runfolder.is_mlflow_source(name):
        with tempfile.TemporaryDirectory(prefix="xai-bench-load-") as dst:
            local = runfolder._download_mlflow_artifact(name, runfolder.PER_PROMPT_FILE, dst)
            per_prompt = _per_prompt_frame(local, metric_cols)
    else:
        path = Path(data.per_prompt.source)
        per_prompt = _per_prompt_frame(path, metric_cols)
    doc = data.metrics
    return RunResult(per_prompt=per_prompt, aggregate=_long(doc.get("results", {})),
                     paired=_long(doc.get("paired") or {}), metrics=doc, source=name)
