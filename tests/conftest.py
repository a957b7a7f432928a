"""Shared fixtures. Every test session gets its own response cache directory, and the
offline switches are set before anything imports litellm or sentence-transformers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "false")

REPO = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported: give the whole test session its own
# home (SQLite metadata database) and the project's dags/ and plugins/ folders.
import tempfile as _tempfile

os.environ.setdefault("AIRFLOW_HOME", _tempfile.mkdtemp(prefix="xai-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("XAI_BENCH_HOME", str(REPO))
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("xai-cache")
    os.environ["XAI_BENCH_CACHE_DIR"] = str(d)
    return d


@pytest.fixture(scope="session")
def embedder():
    """One embedding model per test session (loading it takes seconds)."""
    from xai_bench.explain.embeddings import Embedder

    return Embedder()


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """Default seed 0; ``XAI_BENCH_SEEDS=all`` in the environment is not used by default runs."""
    return int(os.environ.get("XAI_BENCH_SEED", "0"))


def xai_bench_cmd() -> list[str]:
    exe = VENV_BIN / "xai-bench"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "xai_bench.cli"]
