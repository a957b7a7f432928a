"""Benchmark runs: models x datasets x methods from one YAML configuration.

``load_benchmark_config(path)`` reads and validates a configuration, ``run_benchmark``
runs it in process, and :mod:`xai_bench.benchmark.stages` holds the same work as
idempotent stage functions over a run folder for an orchestrator (one call per task).
Importing this package is cheap: the stages (numpy, the explainer) load on first use.
"""

from __future__ import annotations

from typing import Any

from .config import ORACLE_RATIONALE, BenchmarkConfig, DatasetSpec, MetricsOptions, VariantSpec, load_benchmark_config

__all__ = [
    "BenchmarkConfig",
    "DatasetSpec",
    "MetricsOptions",
    "VariantSpec",
    "ORACLE_RATIONALE",
    "load_benchmark_config",
    "run_benchmark",
]


def __getattr__(name: str) -> Any:
    if name == "run_benchmark":
        from .runner import run_benchmark

        return run_benchmark
    raise AttributeError(f"module 'xai_bench.benchmark' has no attribute {name!r}")
