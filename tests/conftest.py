"""Shared fixtures. Every test session gets its own response cache directory, and the
offline switches are set before anything imports litellm or sentence-transformers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from xai_bench.offline import set_offline_env  # noqa: E402  (imports nothing that reaches the network)

set_offline_env(telemetry=True)
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


SEED_ENV = "XAI_BENCH_TEST_SEED"


def test_seeds(spec: str | None = None) -> list[int]:
    """The seeds a seeded test runs with: ``$XAI_BENCH_TEST_SEED`` as an int, a range "a-b"
    (inclusive) or "all" (0-19); 0 when unset (the scikit-learn global-random-seed pattern)."""
    spec = (os.environ.get(SEED_ENV, "0") if spec is None else spec).strip()
    try:
        if spec == "all":
            return list(range(20))
        if "-" in spec:
            lo, hi = (int(v) for v in spec.split("-", 1))
            if lo > hi:
                raise ValueError
            return list(range(lo, hi + 1))
        return [int(spec)]
    except ValueError:
        raise pytest.UsageError(f"{SEED_ENV} must be an int, a range 'a-b' or 'all'. Got {spec!r} instead.") from None


test_seeds.__test__ = False  # a helper, not a test


def _parametrized_names(metafunc: pytest.Metafunc) -> set[str]:
    names: set[str] = set()
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        names.update(n.strip() for n in (argnames.split(",") if isinstance(argnames, str) else argnames))
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The one seed fixture: a test that takes ``seed`` (and does not parametrize it itself)
    runs once per seed of ``test_seeds()``."""
    if "seed" in metafunc.fixturenames and "seed" not in _parametrized_names(metafunc):
        metafunc.parametrize("seed", test_seeds())


def xai_bench_cmd() -> list[str]:
    exe = VENV_BIN / "xai-bench"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "xai_bench.cli"]
