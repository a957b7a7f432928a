"""Log a benchmark results folder to MLflow, and read it back for the drift gate.

``log_benchmark_run(OUT)`` turns one results folder into one MLflow *parent* run with a
*nested* run per model x dataset x method::

    parent  "xai-bench <run_id>"
      params     the resolved configuration (OUT/config.yaml or config.json) flattened: "explain.n_samples" ...
      metrics    every numeric value of metrics.json as "<model>/<dataset>/<method>/<metric>"
      tags       xai_bench.run_id, .git_commit (and mlflow.source.git.commit), .config_hash,
                 .seed, .created, .metrics_sha256, .dataset.<name>.sha256,
                 .model.<name>.id / .weights_sha256 / ...
      inputs     one dataset input per benchmark data set (mlflow.log_input, context "evaluation")
      artifacts  metrics.json, per_prompt.csv, report.md, config.yaml/.json, run.json, task_answers.csv,
                 heatmaps/, explanations/, fit/ (per-shard explanations and per-prompt rows)
    nested  "<model> | <dataset> | <method>"
      params     model, dataset, method
      metrics    that cell's metrics ("att_auroc", "fidelity_r2", ...)
      tags       xai_bench.model / .dataset / .method / .run_id (+ the model's and data set's hashes)
      inputs     the cell's data set

Names are sanitised for MLflow (letters, digits, ``_ - . / space``; at most 250 characters;
no ``..`` or leading ``/``); a name that had to change, or that would collide with another,
gets a short hash suffix so no two values share a key. Parameter values longer than MLflow's
6000 characters are truncated with a marker.

Idempotent: calling it again for the same ``run.run_id`` and the same metrics.json returns the
finished parent run already logged; a parent left unfinished by a crash, or one whose
metrics.json differs, is deleted (soft delete, with its nested runs) and logged anew. So an
Airflow retry never leaves duplicates.

Secrets: configuration values and tags go through ``xai_bench.ops.audit.scrub_secrets`` (values of
secret-named keys and key-like strings become ``[REDACTED]``); text artifacts are copied with
key-like strings redacted before upload.

Where: ``tracking_uri`` argument, else ``$MLFLOW_TRACKING_URI``, else
``sqlite:///<XAI_BENCH_HOME or cwd>/mlflow/mlflow.db`` with artifacts in ``.../mlflow/artifacts``.
MLflow 3.17 puts artifacts under the current directory unless an experiment names its
``artifact_location``, so a new experiment on a local store always gets one.

``mlflow`` is imported inside the functions (importing it takes about 2 s).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import posixpath
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .audit import scrub_secrets, sha256_file
from .runfolder import flatten_metrics
from .secrets import redact_text
from ..errors import XaiBenchError
from ..llm.families import is_local
from ..paths import mlflow_dir

__all__ = [
    "DATASET_CONTEXT",
    "TrackingError",
    "default_artifact_location",
    "default_tracking_uri",
    "flatten_config",
    "log_benchmark_run",
    "read_run_metrics",
    "run_url",
    "sanitize_name",
    "tag_run",
]

DATASET_CONTEXT = "evaluation"
TAG_PREFIX = "xai_bench."
MAX_KEY = 250  # MLflow's limit on param, metric and tag keys
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
_TRUNCATED = "...[truncated {n} chars]"
_ARTIFACT_FILES = ("metrics.json", "per_prompt.csv", "per_prompt.parquet", "task_answers.csv", "report.md",
                   "report.html", "config.yaml", "config.json", "run.json")
_ARTIFACT_DIRS = ("heatmaps", "explanations", "fit")
_CONFIG_FILES = ("config.yaml", "config.json")
_TEXT_SUFFIXES = {".json", ".jsonl", ".csv", ".md", ".html", ".htm", ".yaml", ".yml", ".txt", ".svg"}
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")


class TrackingError(XaiBenchError):
    """A results folder cannot be logged, or a run cannot be read back; the message says why."""


EXPERIMENT_NAME = "xai-bench"  # the MLflow experiment benchmark runs go to by default


# ---------------------------------------------------------------------------- locations


def default_tracking_uri() -> str:
    """``sqlite:///<XAI_BENCH_HOME or cwd>/mlflow/mlflow.db`` (the project-local store)."""
    return f"sqlite:///{mlflow_dir() / 'mlflow.db'}"


def default_artifact_location() -> str:
    """``<XAI_BENCH_HOME or cwd>/mlflow/artifacts`` as a ``file://`` URI."""
    return (mlflow_dir() / "artifacts").as_uri()


def _resolve_uri(tracking_uri: str | None) -> str:
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return uri


def _local_artifact_location(uri: str) -> str | None:
    """Artifacts beside a local SQLite store: ``<db dir>/artifacts``; None for servers."""
    if uri == default_tracking_uri():
        return default_artifact_location()
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).resolve().parent / "artifacts").as_uri()
    return None


@contextlib.contextmanager
def _tracking_scope(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri``, and restore the caller's setting afterwards.

    (``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI``; both are restored.)
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils as _mlflow_uri_state

    prev_env = os.environ.get("MLFLOW_TRACKING_URI")
    # the raw global, not the resolved URI: is_tracking_uri_set() is also true when only the
    # environment variable is set, and restoring that would pin the global to it for good
    prev = _mlflow_uri_state._tracking_uri
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(prev)
        if prev_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = prev_env


# ---------------------------------------------------------------------------- names and values


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


def _unique_keys(names: list[str], *, max_len: int = MAX_KEY) -> dict[str, str]:
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


def _truncate(value: str, limit: int) -> str:
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
    clean = scrub_secrets(_jsonable(config))
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            out[prefix or "config"] = _param_text(value)

    walk("", clean)
    return out


def _jsonable(obj: Any) -> Any:
    """Turn YAML scalars that JSON lacks (dates, sets, paths) into strings so scrub_secrets takes them."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _scrubbed_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), sort_keys=True, default=str)
    return _truncate(redact_text(text), MAX_TAG_VALUE)


# ---------------------------------------------------------------------------- inputs


def _load_results(results_dir: Path) -> tuple[dict[str, Any], str]:
    from .runfolder import GateInputError, load_metrics

    path = results_dir / "metrics.json"
    if not results_dir.is_dir():
        raise TrackingError(f"{results_dir}: results folder not found; pass the OUT folder of a benchmark run.")
    try:
        doc = load_metrics(path)
    except GateInputError as e:
        raise TrackingError(f"cannot log {results_dir} to MLflow: {e}") from e
    return doc, sha256_file(path)


def _load_config(results_dir: Path) -> dict[str, Any]:
    """The resolved configuration: ``config.yaml``, else ``config.json`` (the runner's), else {}."""
    path = next((results_dir / n for n in _CONFIG_FILES if (results_dir / n).is_file()), None)
    if path is None:
        return {}
    import yaml  # YAML is a superset of JSON

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise TrackingError(f"{path}: not valid YAML/JSON ({e}); it should be the resolved configuration.") from e
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise TrackingError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}.")
    return dict(doc)


def _shard_dataset_hashes(results_dir: Path) -> dict[str, str]:
    """``{dataset: sha256}`` from the runner's ``shards/*.json`` (``dataset``, ``dataset_sha256``)."""
    out: dict[str, str] = {}
    for path in sorted((results_dir / "shards").glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, Mapping) and isinstance(doc.get("dataset"), str) and isinstance(doc.get("dataset_sha256"), str):
            out.setdefault(doc["dataset"], doc["dataset_sha256"])
    return out


def _dataset_frame(path: Path):
    """A data set file as a DataFrame whose nested cells are JSON text (MLflow schemas want scalars)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        df = pd.read_json(path, lines=True, dtype=False)
    elif suffix == ".json":
        df = pd.read_json(path, dtype=False)
    elif suffix == ".csv":
        df = pd.read_csv(path)
    elif suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        raise TrackingError(f"{path}: cannot read a data set with suffix {suffix!r}; use .jsonl, .json, .csv or .parquet.")
    for col in df.columns:
        if df[col].map(lambda v: isinstance(v, (list, dict, tuple))).any():
            df[col] = df[col].map(lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)
                                  if isinstance(v, (list, dict, tuple)) else v)
    return df


def _model_info(model: str, given: Any, hash_local_models: bool) -> dict[str, str]:
    """Identifier, GGUF path and sha256 for a model name like ``local/smollm2-135m``."""
    info: dict[str, str] = {"id": model}
    if isinstance(given, Mapping):
        info.update({str(k): _scrubbed_text(v) for k, v in given.items() if v is not None})
    elif given is not None:
        info["info"] = _scrubbed_text(given)
    if hash_local_models and "weights_sha256" not in info and is_local(model):
        try:
            from ..offline import set_offline_env

            set_offline_env()  # models.local imports litellm, which otherwise fetches a price list
            from ..llm.models.local import local_weights

            path, info["weights_sha256"] = local_weights(model)
            info.setdefault("weights_file", path.name)
            from ..llm.models.llama_build import backend_info

            info.setdefault("llama_cpp_build", backend_info().build_id)
            info.setdefault("llama_cpp_system_info", backend_info().system_info)
        except (XaiBenchError, OSError) as e:
            info["weights_sha256"] = f"unavailable: {str(e).splitlines()[0][:200]}"
    return info


# ---------------------------------------------------------------------------- artifacts


def _stage_artifacts(results_dir: Path, staging: Path, config: Mapping[str, Any]) -> list[str]:
    """Copy what is uploaded into ``staging``, redacting key-like strings in text files."""
    staged: list[str] = []

    def copy(src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix.lower() in _TEXT_SUFFIXES:
            try:
                text = src.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                shutil.copyfile(src, dst)
                return
            dst.write_text(redact_text(text), encoding="utf-8")
        else:
            shutil.copyfile(src, dst)

    for name in _ARTIFACT_FILES:
        src = results_dir / name
        if not src.is_file():
            continue
        if name in _CONFIG_FILES and config and name == next(n for n in _CONFIG_FILES if (results_dir / n).is_file()):
            clean = scrub_secrets(_jsonable(config))
            if name == "config.json":
                text = json.dumps(clean, indent=2, ensure_ascii=False) + "\n"
            else:
                import yaml

                text = yaml.safe_dump(clean, sort_keys=False, allow_unicode=True)
            (staging / name).write_text(text, encoding="utf-8")
        else:
            copy(src, staging / name)
        staged.append(name)
    for name in _ARTIFACT_DIRS:
        src_dir = results_dir / name
        if not src_dir.is_dir():
            continue
        for src in sorted(p for p in src_dir.rglob("*") if p.is_file()):
            copy(src, staging / src.relative_to(results_dir))
        staged.append(name + "/")
    return staged


# ---------------------------------------------------------------------------- logging


# MLflow 3 opens an experiment without this tag on its GenAI overview, which shows nothing for
# benchmark runs; "custom_model_development" makes the UI open the experiment on its runs.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")


def mark_runs_experiment(client: Any, experiment_id: str) -> None:
    """Tag an experiment so that MLflow's UI opens it on its runs table."""
    exp = client.get_experiment(experiment_id)
    if exp.tags.get(EXPERIMENT_KIND_TAG[0]) != EXPERIMENT_KIND_TAG[1]:
        client.set_experiment_tag(experiment_id, *EXPERIMENT_KIND_TAG)


def _ensure_experiment(client: Any, name: str, artifact_location: str | None) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        exp_id = exp.experiment_id
    else:
        try:
            exp_id = client.create_experiment(name, artifact_location=artifact_location)
        except Exception:  # created meanwhile by a concurrent task (unique name): use that one
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            exp_id = exp.experiment_id
    mark_runs_experiment(client, exp_id)
    return exp_id


def _previous_parents(client: Any, experiment_id: str, run_id: str) -> list[Any]:
    safe = run_id.replace("'", "")
    return client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_PREFIX}run_id` = '{safe}' and tags.`{TAG_PREFIX}role` LIKE 'parent%'",
        max_results=100,
    )


def _delete_with_children(client: Any, experiment_id: str, parent_id: str) -> None:
    children = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
                                  max_results=10000)
    for child in children:
        client.delete_run(child.info.run_id)
    client.delete_run(parent_id)


def log_benchmark_run(
    results_dir: str | os.PathLike[str],
    *,
    tracking_uri: str | None = None,
    experiment: str = EXPERIMENT_NAME,
    artifact_location: str | None = None,
    dataset_files: Mapping[str, str | os.PathLike[str]] | None = None,
    model_tags: Mapping[str, Any] | None = None,
    hash_local_models: bool = True,
    extra_tags: Mapping[str, Any] | None = None,
) -> str:
    """Log a benchmark results folder to MLflow and return the parent run's id.

    Parameters
    ----------
    results_dir:
        The OUT folder of a benchmark run (``metrics.json`` required; ``config.yaml`` or ``config.json``,
        ``per_prompt.csv``, ``report.md``, ``heatmaps/``, ``explanations/`` when present).
    tracking_uri:
        MLflow tracking URI; default ``$MLFLOW_TRACKING_URI`` or the project-local SQLite store.
    experiment:
        Experiment name, created when missing.
    artifact_location:
        Artifact root for a *new* experiment. Default: beside a local SQLite store
        (``<db dir>/artifacts``); the server's default for HTTP tracking URIs.
    dataset_files:
        ``{dataset name: data file}``: each is hashed (tag ``xai_bench.dataset.<name>.sha256``)
        and recorded with ``mlflow.log_input(mlflow.data.from_pandas(...), context="evaluation")``.
        Data sets not named here still get their hash tag when the runner's ``shards/*.json``
        record it (``dataset_sha256``), but no dataset input.
    model_tags:
        ``{model: {"weights_sha256": ..., ...}}`` (or a string) recorded as
        ``xai_bench.model.<model>.<key>`` tags. For ``local/<name>`` models without a given
        ``weights_sha256``, the GGUF file is located and hashed (``hash_local_models``).
    extra_tags:
        More tags for the parent run (scrubbed of secrets), e.g. the Airflow DAG run id.
    """
    import mlflow
    from mlflow import MlflowClient

    results_dir = Path(results_dir)
    doc, metrics_sha = _load_results(results_dir)
    config = _load_config(results_dir)
    run = doc.get("run") or {}
    run_id = str(run.get("run_id") or metrics_sha[:16])
    uri = _resolve_uri(tracking_uri)
    location = artifact_location if artifact_location is not None else _local_artifact_location(uri)

    datasets = {str(k): Path(v) for k, v in (dataset_files or {}).items()}
    for name, path in datasets.items():
        if not path.is_file():
            raise TrackingError(f"dataset_files[{name!r}]: file not found: {path}")
    dataset_sha = {**_shard_dataset_hashes(results_dir), **{name: sha256_file(p) for name, p in datasets.items()}}
    models = sorted({m for m in doc["results"]} | set(model_tags or {}))
    model_info = {m: _model_info(m, (model_tags or {}).get(m), hash_local_models) for m in models}

    with _tracking_scope(uri):
        client = MlflowClient(uri)
        exp_id = _ensure_experiment(client, experiment, location)
        for prev in _previous_parents(client, exp_id, run_id):
            same = prev.data.tags.get(f"{TAG_PREFIX}metrics_sha256") == metrics_sha
            complete = prev.data.tags.get(f"{TAG_PREFIX}role") == "parent" and prev.info.status == "FINISHED"
            if same and complete:
                return prev.info.run_id
            _delete_with_children(client, exp_id, prev.info.run_id)

        if mlflow.active_run() is not None:
            raise TrackingError(
                f"an MLflow run ({mlflow.active_run().info.run_id}) is already active in this process; "
                "end it before logging a benchmark run (log_benchmark_run starts its own parent run)."
            )
        parent_tags = _parent_tags(run, run_id, metrics_sha, dataset_sha, model_info, extra_tags)
        frames = {name: _dataset_frame(path) for name, path in datasets.items()}
        with mlflow.start_run(experiment_id=exp_id, run_name=f"xai-bench {run_id}", tags=parent_tags) as parent:
            params = flatten_config(config)
            keys = _unique_keys(sorted(params))
            mlflow.log_params({keys[k]: _truncate(v, MAX_PARAM_VALUE) for k, v in params.items()})
            inputs = {}
            for name, path in datasets.items():
                with warnings.catch_warnings():
                    # MLflow 3.17 registers its local-file source twice and warns that a path
                    # "can be interpreted in multiple ways"; both readings are the same class.
                    warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
                    inputs[name] = mlflow.data.from_pandas(frames[name], source=str(path.resolve()), name=name)
                mlflow.log_input(inputs[name], context=DATASET_CONTEXT,
                                 tags={"sha256": dataset_sha[name], "file": path.name})

            all_metrics: dict[str, float] = {}
            for model, by_dataset in doc["results"].items():
                for dataset, by_method in by_dataset.items():
                    for method, metrics in by_method.items():
                        cell = _log_cell(mlflow, exp_id, run_id, model, dataset, method, metrics,
                                         model_info.get(model, {}), dataset_sha.get(dataset), inputs.get(dataset))
                        for name, value in cell.items():
                            all_metrics[f"{model}/{dataset}/{method}/{name}"] = value
            keys = _unique_keys(sorted(all_metrics))
            mlflow.log_metrics({keys[k]: v for k, v in all_metrics.items()})

            with tempfile.TemporaryDirectory(prefix="xai-bench-mlflow-") as tmp:
                staged = _stage_artifacts(results_dir, Path(tmp), config)
                mlflow.log_artifacts(tmp)
            mlflow.set_tag(f"{TAG_PREFIX}artifacts", ",".join(staged))
            mlflow.set_tag(f"{TAG_PREFIX}role", "parent")  # last: marks a complete parent for retries
            return parent.info.run_id


def _parent_tags(run: Mapping[str, Any], run_id: str, metrics_sha: str, dataset_sha: Mapping[str, str],
                 model_info: Mapping[str, Mapping[str, str]], extra: Mapping[str, Any] | None) -> dict[str, str]:
    raw: dict[str, Any] = {
        f"{TAG_PREFIX}run_id": run_id,
        f"{TAG_PREFIX}metrics_sha256": metrics_sha,
        f"{TAG_PREFIX}role": "parent-incomplete",
    }
    for key in ("git_commit", "config_hash", "seed", "created"):
        if run.get(key) is not None:
            raw[f"{TAG_PREFIX}{key}"] = run[key]
    if run.get("git_commit"):
        raw["mlflow.source.git.commit"] = run["git_commit"]
    for name, sha in dataset_sha.items():
        raw[f"{TAG_PREFIX}dataset.{sanitize_name(name)}.sha256"] = sha
    for model, info in model_info.items():
        for k, v in info.items():
            raw[f"{TAG_PREFIX}model.{sanitize_name(model)}.{sanitize_name(k)}"] = v
    raw[f"{TAG_PREFIX}models"] = ",".join(model_info)
    for k, v in scrub_secrets(_jsonable(dict(extra or {}))).items():
        raw[k if k.startswith(("mlflow.", TAG_PREFIX)) else f"{TAG_PREFIX}{k}"] = v
    keys = _unique_keys(list(raw))
    return {keys[k]: _scrubbed_text(v) for k, v in raw.items()}


def _log_cell(mlflow: Any, experiment_id: str, run_id: str, model: str, dataset: str, method: str, metrics: Mapping[str, Any],
              model_info: Mapping[str, str], dataset_sha: str | None, dataset_input: Any) -> dict[str, float]:
    """One nested run for a model x dataset x method; returns the metrics it logged."""
    tags = {
        f"{TAG_PREFIX}run_id": run_id,
        f"{TAG_PREFIX}role": "cell",
        f"{TAG_PREFIX}model": model,
        f"{TAG_PREFIX}dataset": dataset,
        f"{TAG_PREFIX}method": method,
    }
    if model_info.get("weights_sha256"):
        tags[f"{TAG_PREFIX}model.weights_sha256"] = model_info["weights_sha256"]
    if dataset_sha:
        tags[f"{TAG_PREFIX}dataset.sha256"] = dataset_sha
    values: dict[str, float] = {}
    skipped: list[str] = []
    for name, value in ((".".join(k), v) for k, v in flatten_metrics(metrics)):
        number = _numeric(value)
        if number is None:
            skipped.append(name)
        else:
            values[name] = number
    if skipped:
        tags[f"{TAG_PREFIX}non_numeric_metrics"] = ",".join(sorted(skipped))
    keys = _unique_keys(sorted(values))
    renamed = {n: k for n, k in keys.items() if n != k}
    if renamed:
        tags[f"{TAG_PREFIX}metric_names"] = json.dumps(renamed, sort_keys=True)
    # experiment_id: a nested run otherwise lands in the *active* experiment, not the parent's
    with mlflow.start_run(experiment_id=experiment_id, nested=True, run_name=f"{model} | {dataset} | {method}",
                          tags={k: _scrubbed_text(v) for k, v in tags.items()}):
        mlflow.log_params({"model": model, "dataset": dataset, "method": method})
        if values:
            mlflow.log_metrics({keys[n]: v for n, v in values.items()})
        if dataset_input is not None:
            mlflow.log_input(dataset_input, context=DATASET_CONTEXT, tags={"sha256": dataset_sha or ""})
    return values


# ---------------------------------------------------------------------------- reading back


def tag_run(run_id: str, tags: Mapping[str, Any], *, tracking_uri: str | None = None) -> None:
    """Set tags on an existing run (e.g. the gate verdict or the audit log's head hash), scrubbed."""
    from mlflow import MlflowClient

    client = MlflowClient(_resolve_uri(tracking_uri))
    clean = scrub_secrets(_jsonable(dict(tags)))
    keys = _unique_keys(list(clean))
    for k, v in clean.items():
        client.set_tag(run_id, keys[k], _scrubbed_text(v))


def read_run_metrics(run_id: str, tracking_uri: str | None = None) -> dict[str, Any]:
    """The ``metrics.json`` document (schema 1) of a benchmark run logged by ``log_benchmark_run``.

    ``run_id`` may name the parent or one of its nested runs. Downloads the parent's
    ``metrics.json`` artifact; when it is missing, rebuilds ``results`` from the nested
    runs' metrics (names as logged) and ``run`` from the parent's tags.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = _resolve_uri(tracking_uri)
    client = MlflowClient(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as e:
        raise TrackingError(f"MLflow run {run_id!r} not found at {uri}: {str(e).splitlines()[0]}") from e
    parent_id = run.data.tags.get("mlflow.parentRunId") if run.data.tags.get(f"{TAG_PREFIX}role") == "cell" else None
    if parent_id:
        run = client.get_run(parent_id)
    pid = run.info.run_id
    with tempfile.TemporaryDirectory(prefix="xai-bench-mlflow-") as tmp:
        try:
            local = client.download_artifacts(pid, "metrics.json", tmp)
            return json.loads(Path(local).read_text(encoding="utf-8"))
        except (MlflowException, OSError, ValueError):
            pass
    tags = run.data.tags
    doc: dict[str, Any] = {"schema_version": 1, "run": {}, "results": {}}
    for key in ("run_id", "created", "config_hash", "seed", "git_commit"):
        if f"{TAG_PREFIX}{key}" in tags:
            value: Any = tags[f"{TAG_PREFIX}{key}"]
            doc["run"][key] = int(value) if key == "seed" and value.lstrip("-").isdigit() else value
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{pid}'",
                                  max_results=10000)
    if not children:
        raise TrackingError(f"MLflow run {pid!r} has neither a metrics.json artifact nor nested runs to read.")
    for child in children:
        t = child.data.tags
        model, dataset, method = (t.get(f"{TAG_PREFIX}{k}") for k in ("model", "dataset", "method"))
        if not (model and dataset and method):
            continue
        doc["results"].setdefault(model, {}).setdefault(dataset, {})[method] = dict(child.data.metrics)
    return doc


def run_url(run_id: str, *, tracking_uri: str | None = None, ui_url: str | None = None) -> str:
    """The MLflow UI address of a run: ``<ui>/#/experiments/<experiment id>/runs/<run id>``.

    ``ui_url`` defaults to the tracking URI for http(s) servers, else ``$XAI_BENCH_MLFLOW_UI_URL``
    or ``http://127.0.0.1:5000`` (where ``mlflow ui --backend-store-uri <sqlite uri>`` listens).
    """
    from mlflow import MlflowClient

    uri = _resolve_uri(tracking_uri)
    if ui_url is None:
        ui_url = uri if uri.startswith(("http://", "https://")) else (
            os.environ.get("XAI_BENCH_MLFLOW_UI_URL") or "http://127.0.0.1:5000")
    experiment_id = MlflowClient(uri).get_run(run_id).info.experiment_id
    return f"{ui_url.rstrip('/')}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}"
