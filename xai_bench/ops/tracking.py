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

The folder is read through :class:`xai_bench.ops.runfolder.RunFolder`; names and values are
made MLflow-safe by :mod:`xai_bench.ops.mlflow_names`; where the store is, and reading runs
back (``read_run_metrics``, ``tag_run``, ``run_url``), is :mod:`xai_bench.ops.mlflow_store`.

``mlflow`` is imported inside the functions (importing it takes about 2 s).
"""

from __future__ import annotations


from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .audit import scrub_secrets, sha256_file
from .mlflow_names import (MAX_PARAM_VALUE, TAG_PREFIX, flatten_config, jsonable, numeric, sanitize_name,
                           scrubbed_text, truncate, unique_keys)
from .mlflow_store import (EXPERIMENT_KIND_TAG, EXPERIMENT_NAME, TrackingError, default_artifact_location,
                           default_tracking_uri, ensure_experiment, local_artifact_location, mark_runs_experiment,
                           read_run_metrics, resolve_tracking_uri, run_url, tag_run, tracking_scope)
from .runfolder import CONFIG_FILES, GateInputError, RunFolder, flatten_metrics
from .secrets import redact_text

__all__ = [
    "DATASET_CONTEXT",
    "EXPERIMENT_KIND_TAG",
    "EXPERIMENT_NAME",
    "TrackingError",
    "default_artifact_location",
    "default_tracking_uri",
    "flatten_config",
    "log_benchmark_run",
    "mark_runs_experiment",
    "read_run_metrics",
    "run_url",
    "sanitize_name",
    "tag_run",
    "tracking_scope",
]


DATASET_CONTEXT = "evaluation"
_ARTIFACT_FILES = ("metrics.json", "per_prompt.csv", "per_prompt.parquet", "task_answers.csv", "report.md",
                   "report.html", "config.yaml", "config.json", "run.json")
_ARTIFACT_DIRS = ("heatmaps", "explanations", "fit")
_TEXT_SUFFIXES = {".json", ".jsonl", ".csv", ".md", ".html", ".htm", ".yaml", ".yml", ".txt", ".svg"}


# ---------------------------------------------------------------------------- inputs


def _read_folder(results_dir: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """metrics.json (validated), its sha256 and the resolved configuration, or TrackingError."""
    if not results_dir.is_dir():
        raise TrackingError(f"{results_dir}: results folder not found; pass the OUT folder of a benchmark run.")
    folder = RunFolder(results_dir)
    try:
        return folder.metrics(), folder.metrics_sha256(), folder.config()
    except GateInputError as e:
        raise TrackingError(f"cannot log {results_dir} to MLflow: {e}") from e


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


def _model_info(model: str, given: Any, folder: RunFolder | None) -> dict[str, str]:
    """Identifier, and for ``local/`` models (when ``folder`` is given) the GGUF file, its sha256 and
    the llama.cpp build, as ``RunFolder.model_identity`` finds them."""
    info: dict[str, str] = {"id": model}
    if isinstance(given, Mapping):
        info.update({str(k): scrubbed_text(v) for k, v in given.items() if v is not None})
    elif given is not None:
        info["info"] = scrubbed_text(given)
    identity = folder.model_identity(model) if folder is not None and "weights_sha256" not in info else {}
    if identity:
        if identity.get("weights_sha256") is None:
            info["weights_sha256"] = f"unavailable: {identity.get('note', '')}"
        for k, v in identity.items():
            if v is not None and k != "note":
                info.setdefault(k, str(v))
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
        if name in CONFIG_FILES and config and name == next(n for n in CONFIG_FILES if (results_dir / n).is_file()):
            clean = scrub_secrets(jsonable(config))
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
    doc, metrics_sha, config = _read_folder(results_dir)
    run = doc.get("run") or {}
    run_id = str(run.get("run_id") or metrics_sha[:16])
    uri = resolve_tracking_uri(tracking_uri)
    location = artifact_location if artifact_location is not None else local_artifact_location(uri)

    datasets = {str(k): Path(v) for k, v in (dataset_files or {}).items()}
    for name, path in datasets.items():
        if not path.is_file():
            raise TrackingError(f"dataset_files[{name!r}]: file not found: {path}")
    folder = RunFolder(results_dir)
    dataset_sha = {**folder.dataset_hashes(), **{name: sha256_file(p) for name, p in datasets.items()}}
    models = sorted({m for m in doc["results"]} | set(model_tags or {}))
    model_info = {m: _model_info(m, (model_tags or {}).get(m), folder if hash_local_models else None) for m in models}

    with tracking_scope(uri):
        client = MlflowClient(uri)
        exp_id = ensure_experiment(client, experiment, location)
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
            keys = unique_keys(sorted(params))
            mlflow.log_params({keys[k]: truncate(v, MAX_PARAM_VALUE) for k, v in params.items()})
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
            keys = unique_keys(sorted(all_metrics))
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
    for k, v in scrub_secrets(jsonable(dict(extra or {}))).items():
        raw[k if k.startswith(("mlflow.", TAG_PREFIX)) else f"{TAG_PREFIX}{k}"] = v
    keys = unique_keys(list(raw))
    return {keys[k]: scrubbed_text(v) for k, v in raw.items()}


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
        number = numeric(value)
        if number is None:
            skipped.append(name)
        else:
            values[name] = number
    if skipped:
        tags[f"{TAG_PREFIX}non_numeric_metrics"] = ",".join(sorted(skipped))
    keys = unique_keys(sorted(values))
    renamed = {n: k for n, k in keys.items() if n != k}
    if renamed:
        tags[f"{TAG_PREFIX}metric_names"] = json.dumps(renamed, sort_keys=True)
    # experiment_id: a nested run otherwise lands in the *active* experiment, not the parent's
    with mlflow.start_run(experiment_id=experiment_id, nested=True, run_name=f"{model} | {dataset} | {method}",
                          tags={k: scrubbed_text(v) for k, v in tags.items()}):
        mlflow.log_params({"model": model, "dataset": dataset, "method": method})
        if values:
            mlflow.log_metrics({keys[n]: v for n, v in values.items()})
        if dataset_input is not None:
            mlflow.log_input(dataset_input, context=DATASET_CONTEXT, tags={"sha256": dataset_sha or ""})
    return values
