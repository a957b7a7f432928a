"""Every location xai-bench reads or writes, derived from the environment in one place.

    XAI_BENCH_HOME        project-local state root (default: the current directory)
      audit/audit.jsonl   the hash-chained audit log ($XAI_BENCH_AUDIT_LOG overrides)
      mlflow/mlflow.db    the MLflow tracking store; artifacts in mlflow/artifacts
    XAI_BENCH_CACHE_DIR   user cache (default: ~/.cache/xai-bench)
      responses.sqlite    the response cache
      models/             downloaded model files (Qwen)
    XAI_BENCH_CALL_LOG    a JSON-lines log of every model call (default: none; ExplainConfig.call_log wins)

``REPO_ROOT`` is the source checkout that holds ``data/`` and ``configs/``. Every function
reads the environment when called, never at import, so tests can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "home",
    "cache_dir",
    "response_cache_path",
    "model_cache_dir",
    "audit_log_path",
    "mlflow_dir",
    "call_log_path",
    "location_env",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """Project-local state root: $XAI_BENCH_HOME, else the current directory (not resolved)."""
    return Path(os.environ.get("XAI_BENCH_HOME") or os.getcwd())


def cache_dir() -> Path:
    """$XAI_BENCH_CACHE_DIR, else ~/.cache/xai-bench."""
    return Path(os.environ.get("XAI_BENCH_CACHE_DIR") or Path.home() / ".cache" / "xai-bench")


def response_cache_path() -> Path:
    """The default response cache file: ``<cache_dir>/responses.sqlite``."""
    return cache_dir() / "responses.sqlite"


def model_cache_dir() -> Path:
    """Where downloaded model files go: ``<cache_dir>/models``."""
    return cache_dir() / "models"


def audit_log_path() -> Path:
    """$XAI_BENCH_AUDIT_LOG, else ``<home>/audit/audit.jsonl``."""
    env = os.environ.get("XAI_BENCH_AUDIT_LOG")
    return Path(env) if env else home() / "audit" / "audit.jsonl"


def mlflow_dir() -> Path:
    """``<home>/mlflow`` (resolved): holds ``mlflow.db`` and ``artifacts/``."""
    return home().resolve() / "mlflow"


def call_log_path() -> Path | None:
    """$XAI_BENCH_CALL_LOG (one JSON line per model call, see ``xai_bench.llm.query``), else None."""
    env = os.environ.get("XAI_BENCH_CALL_LOG")
    return Path(env) if env else None


def location_env(*, home: str | Path | None = None, audit_log: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> dict[str, str]:
    """Environment entries that point a child process's locations elsewhere (for scripts and
    benchmarks that start ``xai-bench`` or Airflow in isolation); only the given ones."""
    out: dict[str, str] = {}
    for name, value in (("XAI_BENCH_HOME", home), ("XAI_BENCH_AUDIT_LOG", audit_log),
                        ("XAI_BENCH_CACHE_DIR", cache_dir)):
        if value is not None:
            out[name] = str(value)
    return out
