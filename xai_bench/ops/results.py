"""The one owner of a run's result files: ``metrics.json`` and ``per_prompt.csv`` (schema, validation, loading).

``source`` is a ``metrics.json`` path, the run folder holding it, or an MLflow run as
``mlflow:<run_id>`` or ``runs:/<run_id>`` whose ``metrics.json`` and ``per_prompt.csv``
artifacts (both logged by ``xai_bench.ops.tracking``) are downloaded from the tracking
server named by ``MLFLOW_TRACKING_URI``. For a path, ``per_prompt.csv`` must be in the same
folder as ``metrics.json``. ``load_metrics(source)`` reads the ``metrics.json`` (schema version 1)::

    {"schema_version": 1,
     "run": {"run_id": ..., "created": ..., "config_hash": ..., "seed": 0},
     "results": {MODEL: {DATASET: {METHOD: {METRIC: number, ...}}}}}

``per_prompt.csv`` has the columns ``model, dataset, method, example_id, n_words,
n_rationale`` then one column per metric (empty = undefined for that prompt); see
``docs/results-schema.md``.

Consumers read a run through :mod:`xai_bench.ops.runfolder`, which uses this module.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import XaiBenchError

__all__ = [
    "SCHEMA_VERSION",
    "METRICS_FILE",
    "PER_PROMPT_FILE",
    "KEY_COLUMNS",
    "Cell",
    "GateInputError",
    "PerPrompt",
    "flatten_metrics",
    "is_mlflow_source",
    "load_metrics",
    "load_per_prompt",
    "metrics_cells",
]

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.json"
PER_PROMPT_FILE = "per_prompt.csv"
KEY_COLUMNS = ("model", "dataset", "method", "example_id")

Cell = tuple[str, str, str]


class GateInputError(XaiBenchError):
    """A metrics, per-prompt or thresholds file cannot be used; the message names it and the problem."""


@dataclass(frozen=True, kw_only=True)
class PerPrompt:
    """A parsed ``per_prompt.csv``: metric values (NaN = undefined) per (model, dataset, method, example_id)."""

    rows: dict[tuple[str, str, str, str], dict[str, float]]
    metrics: tuple[str, ...]
    source: str = ""

    def by_cell(self) -> dict[Cell, dict[str, dict[str, float]]]:
        out: dict[Cell, dict[str, dict[str, float]]] = {}
        for (model, dataset, method, example), values in self.rows.items():
            out.setdefault((model, dataset, method), {})[example] = values
        return out


def is_mlflow_source(source: str | os.PathLike[str]) -> bool:
    """True for ``mlflow:<run_id>`` and ``runs:/<run_id>``."""
    return os.fspath(source).startswith(("mlflow:", "runs:/"))


def _mlflow_run_id(source: str) -> str:
    run_id = source[len("mlflow:") :] if source.startswith("mlflow:") else source[len("runs:/") :]
    run_id = run_id.strip("/").split("/", 1)[0]
    if not run_id:
        raise GateInputError(f"{source}: expected an MLflow run id as 'mlflow:<run_id>' or 'runs:/<run_id>'.")
    return run_id


def _download_mlflow_artifact(source: str, artifact: str, dst: str) -> Path:
    run_id = _mlflow_run_id(source)
    try:
        import mlflow
    except ImportError as e:
        raise GateInputError(f"{source}: reading an MLflow run needs the 'mlflow' package; install it.") from e
    uri = os.environ.get("MLFLOW_TRACKING_URI", "(default ./mlruns)")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=dst)
    except Exception as e:  # mlflow raises MlflowException, OSError, requests errors ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = ""
        if artifact == PER_PROMPT_FILE:
            hint = (" The gate compares prompt by prompt; runs logged by `xai-bench run --record` or the "
                    "xai_benchmark DAG (xai_bench.ops.tracking.log_benchmark_run) carry per_prompt.csv beside "
                    "metrics.json.")
        raise GateInputError(
            f"{source}: could not download artifact {artifact!r} of MLflow run {run_id!r} "
            f"from tracking URI {uri}: {first}.{hint}"
        ) from e
    return Path(local)


def _metrics_path(source: str) -> Path:
    path = Path(source)
    return path / METRICS_FILE if path.is_dir() else path


def _read_file(path: Path, name: str, what: str) -> str:
    if not path.exists():
        raise GateInputError(f"{name}: file not found; pass {what}.")
    if path.is_dir():
        raise GateInputError(f"{name}: is a directory without {path.name}; pass {what}.")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GateInputError(f"{name}: cannot be read: {e}") from e


def _check_number(where: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GateInputError(f"{where} must be a number or null. Got {value!r} instead.")


def _validate_metrics(doc: Any, name: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise GateInputError(f"{name}: expected a JSON object at the top level, got {type(doc).__name__}.")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GateInputError(
            f"{name}: expected 'schema_version': {SCHEMA_VERSION}, got {version!r}. "
            "Is this a metrics.json written by xai-bench?"
        )
    if "run" in doc and not isinstance(doc["run"], dict):
        raise GateInputError(f"{name}: 'run' must be an object, got {type(doc['run']).__name__}.")
    results = doc.get("results")
    if not isinstance(results, dict):
        raise GateInputError(f"{name}: expected 'results' to be an object of models, got {results!r:.60}.")
    for model, datasets in results.items():
        if not isinstance(datasets, dict):
            raise GateInputError(f"{name}: results[{model!r}] must be an object of datasets.")
        for dataset, methods in datasets.items():
            if not isinstance(methods, dict):
                raise GateInputError(f"{name}: results[{model!r}][{dataset!r}] must be an object of methods.")
            for method, metrics in methods.items():
                where = f"{name}: results[{model!r}][{dataset!r}][{method!r}]"
                if not isinstance(metrics, dict):
                    raise GateInputError(f"{where} must be an object of metrics.")
                for metric, value in metrics.items():
                    _check_number(f"{where}[{metric!r}]", value)
    return doc


def _parse_metrics(text: str, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise GateInputError(f"{name}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}.") from e
    return _validate_metrics(doc, name)


def load_metrics(source: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``metrics.json``: a path, a run folder, or an MLflow run (``mlflow:<id>``, ``runs:/<id>``).

    Raises GateInputError naming the source when it is missing, not JSON or not schema 1.
    """
    name = os.fspath(source)
    if is_mlflow_source(name):
        with tempfile.TemporaryDirectory(prefix="xai-bench-gate-") as dst:
            text = _read_file(_download_mlflow_artifact(name, METRICS_FILE, dst), name, "an MLflow run")
        return _parse_metrics(text, name)
    path = _metrics_path(name)
    label = name if path == Path(name) else str(path)
    return _parse_metrics(_read_file(path, label, "the path of a metrics.json written by a run, or its folder"), label)


def _parse_per_prompt(text: str, name: str) -> PerPrompt:
    from ..benchmark.report import ID_COLUMNS

    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise GateInputError(f"{name}: empty file; expected a header with {', '.join(KEY_COLUMNS)} and metric columns.")
    absent = [c for c in KEY_COLUMNS if c not in header]
    if absent:
        raise GateInputError(
            f"{name}: header lacks column(s) {', '.join(absent)}; expected {', '.join(ID_COLUMNS)} then metrics. "
            "Is this a per_prompt.csv written by xai-bench?"
        )
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise GateInputError(f"{name}: column(s) {', '.join(twice)} appear more than once in the header.")
    index = {c: i for i, c in enumerate(header)}
    metric_cols = tuple(c for c in header if c not in ID_COLUMNS)
    rows: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for lineno, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != len(header):
            raise GateInputError(f"{name}: line {lineno}: expected {len(header)} fields, got {len(rec)}.")
        key = tuple(rec[index[c]] for c in KEY_COLUMNS)
        if key in rows:
            raise GateInputError(
                f"{name}: line {lineno}: a second row for model={key[0]!r}, dataset={key[1]!r}, method={key[2]!r}, "
                f"example_id={key[3]!r}; each prompt may appear once per model/dataset/method."
            )
        values: dict[str, float] = {}
        for c in metric_cols:
            raw = rec[index[c]].strip()
            if not raw:
                values[c] = math.nan
                continue
            try:
                v = float(raw)
            except ValueError:
                raise GateInputError(
                    f"{name}: line {lineno}, column {c!r}: expected a number or an empty field, got {raw!r}."
                ) from None
            values[c] = v if math.isfinite(v) else math.nan
        rows[key] = values  # type: ignore[index]
    return PerPrompt(rows=rows, metrics=metric_cols, source=name)


def _per_prompt_path(source: str) -> Path:
    return _metrics_path(source).parent / PER_PROMPT_FILE


def load_per_prompt(source: str | os.PathLike[str]) -> PerPrompt:
    """Read the ``per_prompt.csv`` of a run: beside its ``metrics.json``, in its folder, or an MLflow artifact."""
    name = os.fspath(source)
    if is_mlflow_source(name):
        with tempfile.TemporaryDirectory(prefix="xai-bench-gate-") as dst:
            local = _download_mlflow_artifact(name, PER_PROMPT_FILE, dst)
            text = _read_file(local, f"{name} ({PER_PROMPT_FILE})", "an MLflow run")
        return _parse_per_prompt(text, f"{name} ({PER_PROMPT_FILE})")
    path = Path(name) if Path(name).name == PER_PROMPT_FILE else _per_prompt_path(name)
    if not path.is_file():
        raise GateInputError(
            f"{name}: no {PER_PROMPT_FILE} at {path}. The gate pairs prompts and needs the {PER_PROMPT_FILE} "
            f"that `xai-bench run --config CONFIG --out DIR` writes beside metrics.json; pass a run folder, or the "
            f"metrics.json of a folder that holds both (re-run or regenerate the baseline if it has only metrics.json)."
        )
    return _parse_per_prompt(_read_file(path, str(path), f"the {PER_PROMPT_FILE} of a run"), str(path))


def metrics_cells(doc: Mapping[str, Any]) -> dict[Cell, dict[str, Any]]:
    """``{(model, dataset, method): metrics}`` of a metrics.json document (or of its ``results``)."""
    results = doc.get("results", doc)
    return {
        (model, dataset, method): metrics
        for model, datasets in results.items()
        for dataset, methods in datasets.items()
        for method, metrics in methods.items()
    }


def flatten_metrics(metrics: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Leaves of a nested metrics mapping with their key paths:
    ``{"m": {"d": {"gsmile": {"att_auroc": 0.8}}}}`` -> ``[(("m", "d", "gsmile", "att_auroc"), 0.8)]``."""
    if not isinstance(metrics, Mapping):
        return [(prefix, metrics)]
    rows: list[tuple[tuple[str, ...], Any]] = []
    for k, v in metrics.items():
        rows.extend(flatten_metrics(v, prefix + (str(k),)))
    return rows
