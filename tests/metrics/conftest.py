"""Shared fixtures for the metric tests.

``global_seed``: a controlled seed. By default every seeded test runs once with seed 0;
set XAI_BENCH_TEST_SEED to an integer, a range "a-b" (inclusive) or "all" (0-19) to
sweep (the scikit-learn ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` pattern).
"""

from __future__ import annotations

import os

import pytest


def _seeds() -> list[int]:
    spec = os.environ.get("XAI_BENCH_TEST_SEED", "0").strip()
    if spec == "all":
        return list(range(20))
    if "-" in spec:
        lo, hi = (int(v) for v in spec.split("-", 1))
        return list(range(lo, hi + 1))
    return [int(spec)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "global_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_seed", _seeds())
