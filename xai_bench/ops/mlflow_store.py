"""Where MLflow keeps benchmark runs, and access to runs once logged.

Where: ``tracking_uri`` argument, else ``$MLFLOW_TRACKING_URI``, else
``sqlite:///<XAI_BENCH_HOME or cwd>/mlflow/mlflow.db`` with artifacts in ``.../mlflow/artifacts``.
MLflow 3.17 puts artifacts under the current directory unless an experiment names its
``artifact_location``, so a new experiment on a local store always gets one.

``mlflow`` is imported inside the functions (importing it takes about 2 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import XaiBenchError
from ..paths import mlflow_dir
from .audit import scrub_secrets
from .mlflow_names import TAG_PREFIX, jsonable, scrubbed_text, unique_keys

__all__ = ["EXPERIMENT_NAME", "EXPERIMENT_KIND_TAG", "TrackingError", "default_tracking_uri",
           "default_artifact_location", "resolve_tracking_uri", "local_artifact_location", "tracking_scope",
           "mark_runs_experiment", "ensure_experiment", "tag_run", "read_run_metrics", "run_url"]


class TrackingError(XaiBenchError):
    """A results folder cannot be logged, or a run cannot be read back; the message says why."""


EXPERIMENT_NAME = "xai-bench"  # the MLflow experiment benchmark runs go to by default

# MLflow 3 opens an experiment without this tag on its GenAI overview, which shows nothing for
# benchmark runs; "custom_model_development" makes the UI open the experiment on its runs.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")


# ---------------------------------------------------------------------------- locations


def default_tracking_uri() -> str:
    """``sqlite:///<XAI_BENCH_HOME or cwd>/mlflow/mlflow.db`` (the project-local store)."""
    return f"sqlite:///{mlflow_dir() / 'mlflow.db'}"


def default_artifact_location() -> str:
    """``<XAI_BENCH_HOME or cwd>/mlflow/artifacts`` as a ``file://`` URI."""
    return (mlflow_dir() / "artifacts").as_uri()


def resolve_tracking_uri(tracking_uri: str | None) -> str:
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return uri


def local_artifact_location(uri: str) -> str | None:
    """Artifacts beside a local SQLite store: ``<db dir>/artifacts``; None for servers."""
    if uri == default_tracking_uri():
        return default_artifact_location()
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).resolve().parent / "artifacts").as_uri()
    return None


@contextlib.contextmanager
def tracking_scope(uri: str) -> Iterator[None]:
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


# ---------------------------------------------------------------------------- experiments


def mark_runs_experiment(client: Any, experiment_id: str) -> None:
    """Tag an experiment so that MLflow's UI opens it on its runs table."""
    exp = client.get_experiment(experiment_id)
    if exp.tags.get(EXPERIMENT_KIND_TAG[0]) != EXPERIMENT_KIND_TAG[1]:
        client.set_experiment_tag(experiment_id, *EXPERIMENT_KIND_TAG)


def ensure_experiment(client: Any, name: str, artifact_location: str | None) -> str:
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


# ---------------------------------------------------------------------------- reading back


def tag_run(run_id: str, tags: Mapping[str, Any], *, tracking_uri: str | None = None) -> None:
    """Set tags on an existing run (e.g. the gate verdict or the audit log's head hash), scrubbed."""
    from mlflow import MlflowClient

    client = MlflowClient(resolve_tracking_uri(tracking_uri))
    clean = scrub_secrets(jsonable(dict(tags)))
    keys = unique_keys(list(clean))
    for k, v in clean.items():
        client.set_tag(run_id, keys[k], scrubbed_text(v))


def read_run_metrics(run_id: str, tracking_uri: str | None = None) -> dict[str, Any]:
    """The ``metrics.json`` document (schema 1) of a benchmark run logged by ``log_benchmark_run``.

    ``run_id`` may name the parent or one of its nested runs. Downloads the parent's
    ``metrics.json`` artifact; when it is missing, rebuilds ``results`` from the nested
    runs' metrics (names as logged) and ``run`` from the parent's tags.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
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

    uri = resolve_tracking_uri(tracking_uri)
    if ui_url is None:
        ui_url = uri if uri.startswith(("http://", "https://")) else (
            os.environ.get("XAI_BENCH_MLFLOW_UI_URL") or "http://127.0.0.1:5000")
    experiment_id = MlflowClient(uri).get_run(run_id).info.experiment_id
    return f"{ui_url.rstrip('/')}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}"
