"""One reader of a finished run: every consumer after aggregation (MLflow tracking, the gate,
the audit record) reads a run through this module.

``RunFolder(path)`` reads the files of a run folder (layout in
:mod:`xai_bench.benchmark.rundir`): ``metrics.json`` (through :mod:`xai_bench.ops.results`,
the one owner of its schema), ``run.json``, the resolved configuration, the data set files
and hashes, the prompts and responses of the explanations, and the identity of each model
(for ``local/`` models the sha256 of the weights and the llama.cpp build that answered).

``load_run(source)`` reads what the gate compares: ``metrics.json`` and ``per_prompt.csv`` of
a run folder, a ``metrics.json`` path, or an MLflow run (``mlflow:<id>``, ``runs:/<id>``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import (KEY_COLUMNS, METRICS_FILE, PER_PROMPT_FILE, SCHEMA_VERSION, Cell, GateInputError, PerPrompt,  # noqa: F401
                      _download_mlflow_artifact,  # for xai_bench.ops.load
                      flatten_metrics, is_mlflow_source, load_metrics, load_per_prompt, metrics_cells)

__all__ = [
    "SCHEMA_VERSION", "METRICS_FILE", "PER_PROMPT_FILE", "KEY_COLUMNS", "Cell", "GateInputError", "PerPrompt",
    "RunData", "RunFolder", "flatten_metrics", "is_mlflow_source", "load_metrics", "load_per_prompt", "load_run",
    "metrics_cells",
]


RUN_FILE = "run.json"
CONFIG_FILES = ("config.yaml", "config.json")  # a hand-written config.yaml first, else the runner's config.json


@dataclass(frozen=True, kw_only=True)
class RunData:
    """One run as the gate reads it: the ``metrics.json`` document and its ``per_prompt.csv``."""

    metrics: dict[str, Any]
    per_prompt: PerPrompt
    source: str = ""


def _check_same_run(doc: Mapping[str, Any], pp: PerPrompt, name: str) -> None:
    in_csv = set(pp.by_cell())
    for cell in metrics_cells(doc):
        if cell not in in_csv:
            raise GateInputError(
                f"{name}: metrics.json has model={cell[0]!r}, dataset={cell[1]!r}, method={cell[2]!r} but "
                f"{pp.source} has no row for it; the two files are not from the same run."
            )


def load_run(source: str | os.PathLike[str]) -> RunData:
    """``metrics.json`` and ``per_prompt.csv`` of a run: a metrics.json path (the CSV beside it), a run
    folder, or an MLflow run (``mlflow:<id>``, ``runs:/<id>``; both artifacts are downloaded).

    Raises GateInputError naming the file and the problem when either is missing or invalid,
    or when ``metrics.json`` lists a model/dataset/method the CSV has no rows for.
    """
    name = os.fspath(source)
    doc = load_metrics(name)
    pp = load_per_prompt(name)
    _check_same_run(doc, pp, name)
    return RunData(metrics=doc, per_prompt=pp, source=name)


@dataclass(frozen=True)
class RunFolder:
    """The files of one run folder, each read on demand. Missing optional files read as empty."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def metrics(self) -> dict[str, Any]:
        """The validated ``metrics.json`` (GateInputError naming the file when missing or invalid)."""
        return load_metrics(self.path / METRICS_FILE)

    def metrics_sha256(self) -> str:
        from .audit import sha256_file

        return sha256_file(self.path / METRICS_FILE)

    def info(self) -> dict[str, Any]:
        """``run.json`` (run id, config hash, seed, git commit, data hashes, models, backend), or {}."""
        p = self.path / RUN_FILE
        return dict(json.loads(p.read_text(encoding="utf-8"))) if p.is_file() else {}

    def config(self) -> dict[str, Any]:
        """The resolved configuration: ``config.yaml``, else ``config.json``, else {}."""
        path = next((self.path / n for n in CONFIG_FILES if (self.path / n).is_file()), None)
        if path is None:
            return {}
        import yaml  # YAML is a superset of JSON

        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise GateInputError(f"{path}: not valid YAML/JSON ({e}); it should be the resolved configuration.") from e
        if doc is None:
            return {}
        if not isinstance(doc, Mapping):
            raise GateInputError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}.")
        return dict(doc)

    def dataset_files(self) -> dict[str, Path]:
        """``{data set: file}`` for the configured data sets whose file exists (relative paths under
        ``XAI_BENCH_HOME``, see :mod:`xai_bench.paths`)."""
        from ..paths import home

        out: dict[str, Path] = {}
        for spec in self.config().get("datasets") or []:
            if not isinstance(spec, Mapping):
                continue
            path = Path(spec.get("path", ""))
            if not path.is_absolute():
                path = home() / path
            if path.is_file():
                out[str(spec.get("name", path.stem))] = path
        return out

    def dataset_hashes(self) -> dict[str, str]:
        """``{data set: sha256}`` from ``run.json`` (``fingerprint.data``) and ``shards/*.json`` (``dataset_sha256``)."""
        fingerprint = self.info().get("fingerprint")
        data = fingerprint.get("data") if isinstance(fingerprint, Mapping) else None
        out = {str(k): str(v) for k, v in (data or {}).items()}
        for path in sorted((self.path / "shards").glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(doc, Mapping) and isinstance(doc.get("dataset"), str) \
                    and isinstance(doc.get("dataset_sha256"), str):
                out.setdefault(doc["dataset"], doc["dataset_sha256"])
        return out

    def explanation_texts(self) -> tuple[list[str], list[str]]:
        """Every prompt and response of every explanation in ``fit/*.json`` (original first, then perturbations)."""
        prompts: list[str] = []
        responses: list[str] = []
        for path in sorted((self.path / "fit").glob("*.json")):
            stack: list[Any] = [json.loads(path.read_text(encoding="utf-8"))]
            while stack:  # every Explanation dict anywhere in the shard file
                node = stack.pop()
                if isinstance(node, dict):
                    if "perturbations" in node and "original_response" in node:
                        prompts.append(node.get("prompt", ""))
                        responses.append(node.get("original_response", ""))
                        for p in node["perturbations"]:
                            prompts.append(p.get("prompt", ""))
                            responses.append(p.get("response", ""))
                    else:
                        stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
        return prompts, responses

    def model_identity(self, model: str) -> dict[str, Any]:
        """What names the weights behind ``model``: for ``local/`` models the GGUF file, its sha256, and
        the llama.cpp build and CPU that answered (``run.json``'s ``backend``; the installed build when
        the run did not record one). {} for other models. When the weights cannot be found:
        ``{"weights_sha256": None, "note": why}`` (a hash is never invented)."""
        from ..errors import XaiBenchError
        from ..llm.families import is_local

        if not is_local(model):
            return {}
        try:
            from ..offline import set_offline_env

            set_offline_env()  # models.local imports litellm, which otherwise fetches a price list
            from ..llm.models.local import local_weights

            path, sha = local_weights(model)
            backend = self.info().get("backend")
            if not backend:
                from ..llm.models.llama_build import backend_info

                backend = backend_info().to_dict()
        except (XaiBenchError, ImportError, OSError) as e:
            return {"weights_sha256": None, "note": str(e).splitlines()[0][:200] if str(e) else type(e).__name__}
        return {"weights_sha256": sha, "weights_file": path.name, "llama_cpp_build": backend.get("build_id"),
                "llama_cpp_system_info": backend.get("system_info"), "cpu": (backend.get("cpu") or {}).get("model")}
