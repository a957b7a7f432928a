"""The ``prepare`` stage: validate data and models, then cut the run into shards.

``prepare`` loads and validates every data set first (a failing data set raises
``DataValidationError`` naming the rows, before any model is touched), checks the models
(an unavailable optional model is skipped with a note), and writes ``config.json``,
``run.json`` (with the git commit and the llama.cpp build that answered) and one
``shards/<id>.json`` per shard. Re-using a run folder with another configuration or other
data is refused. A shard is one model x one data set x up to ``shard_size`` prompts.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..datasets import Dataset, Example, load_dataset
from ..errors import ModelError
from ..llm.families import is_local
from ..paths import REPO_ROOT
from .config import ORACLE_RATIONALE, BenchmarkConfig
from .rundir import read_json, slug, stage_path, write_json

__all__ = ["prepare", "resolve_model"]

_ORACLE_EDGE = r"^\W+|\W+$"  # the oracle model's own normalisation (models/oracle.py)


def resolve_model(model: str, example: Example) -> str:
    """The model string for one example: ``oracle:@rationale`` becomes ``oracle:<rationale words>``,
    reading only the example's ``{text}`` slot when it has a task template (``models.oracle``):
    the words of the template (instructions, answer options) are not features and never count."""
    if model != ORACLE_RATIONALE:
        return model
    import re

    from ..llm.models.oracle import SLOT_MARK, oracle_model

    if example.rationale is None:
        raise ModelError(f"{ORACLE_RATIONALE} needs a rationale, and example {example.id!r} has none.")
    keywords: list[str] = []
    for word, r in zip(example.words, example.rationale):
        kw = re.sub(_ORACLE_EDGE, "", word.lower())
        if r and kw and "," not in kw and SLOT_MARK not in kw and kw not in keywords:
            keywords.append(kw)
    if not keywords:
        raise ModelError(f"{ORACLE_RATIONALE}: the rationale words of {example.id!r} give no usable keyword.")
    return oracle_model(keywords, example.template)


def _select(ds: Dataset, ids: tuple[str, ...] | None, limit: int | None) -> list[Example]:
    import difflib

    if ids is None:
        rows = list(ds.examples)
    else:
        known = {ex.id: ex for ex in ds.examples}
        rows = []
        for i in ids:
            if i not in known:
                close = difflib.get_close_matches(i, list(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"Data set {ds.name!r} has no example {i!r}.{hint}")
            rows.append(known[i])
    return rows[:limit] if limit is not None else rows


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_commit(cwd: Path = REPO_ROOT) -> str | None:
    """``git rev-parse HEAD`` of the code, None outside a git checkout."""
    out = _git(["rev-parse", "HEAD"], cwd)
    return (out or "").strip() or None


def _git_dirty(cwd: Path = REPO_ROOT) -> bool | None:
    """True when tracked files differ from that commit (staged or not), so the commit alone does not
    name the code that ran; untracked files do not count (as ``git describe --dirty``). None outside git."""
    if _git_commit(cwd) is None:
        return None
    out = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return None if out is None else bool(out.strip())


def _backend(models: list[str]) -> dict[str, Any] | None:
    """The llama.cpp build and this machine's CPU, when a local model runs (answers depend on both)."""
    if not any(is_local(m) for m in models):
        return None
    from ..llm.models.llama_build import backend_info, cpu_description

    return {**backend_info().to_dict(), "cpu": cpu_description()}


def prepare(config: BenchmarkConfig, run_dir: str | Path) -> list[str]:
    """Validate data and models, write config.json, run.json and the shard files; return shard ids."""
    from ..llm.models.control import check_control_model
    from ..llm.query import check_model
    from ..datasets.validation import DATASET_RULES

    run_dir = Path(run_dir)
    notes: list[str] = []
    selected: dict[str, tuple[Dataset, list[Example]]] = {}
    for spec in config.datasets:  # every data set is validated before anything else happens
        ds = load_dataset(spec.resolved_path(), name=spec.name if spec.name in DATASET_RULES else None)
        rows = _select(ds, spec.ids, spec.limit)
        too_long = [ex.id for ex in rows if len(ex.words) > config.explain.max_features]
        if too_long:
            notes.append(f"{spec.name}: {len(too_long)} example(s) with more than max_features="
                         f"{config.explain.max_features} words left out ({', '.join(too_long[:5])}).")
            rows = [ex for ex in rows if len(ex.words) <= config.explain.max_features]
        selected[spec.name] = (ds, rows)

    models: list[str] = []
    for model in config.models + config.optional_models:
        if model == ORACLE_RATIONALE:
            models.append(model)
            continue
        try:
            check_model(model)
            check_control_model(model)
        except Exception as e:  # an uninstalled local model raises ImportError as well as ModelError
            if model in config.optional_models:
                notes.append(f"Optional model {model!r} skipped: not available here ({type(e).__name__}: {e}).")
                continue
            raise ModelError(f"Model {model!r} is not available: {e}. Remove it from 'models' or list it under "
                             "'optional_models' to skip it when missing.") from e
        models.append(model)
    if not models:
        raise ModelError("None of the configured models is available; nothing to run.")

    fingerprint = {"config_hash": config.config_hash(),
                   "data": {name: ds.sha256 for name, (ds, _) in selected.items()}}
    run_file = run_dir / "run.json"
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    if run_file.is_file():
        old = read_json(run_file)
        if old.get("fingerprint") != fingerprint:
            raise ConfigError(
                f"{run_dir} already holds a run of another configuration or other data "
                f"(config hash {old.get('fingerprint', {}).get('config_hash', '?')[:12]}, this one "
                f"{fingerprint['config_hash'][:12]}). Use a new --out folder or delete the old one."
            )
        return list(old["shards"])

    shards: list[tuple[str, dict[str, Any]]] = []
    for i_model, model in enumerate(models):
        for name, (ds, rows) in selected.items():
            if model == ORACLE_RATIONALE:
                without = [ex.id for ex in rows if ex.rationale is None]
                if without:
                    notes.append(f"{model} on {name}: {len(without)} example(s) without a rationale skipped "
                                 "(the oracle's keywords are the rationale words).")
                rows = [ex for ex in rows if ex.rationale is not None]
            resolved = [resolve_model(model, ex) for ex in rows]
            for chunk, start in enumerate(range(0, len(rows), config.shard_size)):
                shard_id = f"{i_model:02d}-{slug(model, hashed=True)}__{slug(name)}__{chunk:03d}"
                part = rows[start : start + config.shard_size]
                shards.append((shard_id, {
                    "shard_id": shard_id, "model": model, "dataset": name, "dataset_sha256": ds.sha256,
                    "rows": [ex.to_dict() for ex in part],
                    "resolved_models": resolved[start : start + config.shard_size],
                }))
    for shard_id, data in shards:
        write_json(stage_path(run_dir, "shards", shard_id), data)
    write_json(run_dir / "config.json", config.to_dict())
    config_hash = fingerprint["config_hash"]
    stamp = created.replace("-", "").replace(":", "").split("+")[0]
    write_json(run_file, {
        "run_id": f"{slug(config.name)}-{stamp}-{config_hash[:8]}", "created": created, "config_hash": config_hash,
        "seed": config.seed, "git_commit": _git_commit(), "git_dirty": _git_dirty(), "fingerprint": fingerprint, "models": models,
        "shards": [s for s, _ in shards], "notes": notes, "backend": _backend(models),
    })
    return [s for s, _ in shards]
