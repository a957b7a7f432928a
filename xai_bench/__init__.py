"""xai-bench: measure how well token-level explanations explain large language models."""

from .config import METHODS, ConfigError, ExplainConfig
from .explain.explanation import Explanation, PerturbationRecord
from .explain.features import Features, prompt_features
from .explain.perturbation import Perturbations, generate_perturbations

__all__ = [
    "METHODS",
    "ConfigError",
    "ExplainConfig",
    "Explanation",
    "PerturbationRecord",
    "Features",
    "prompt_features",
    "Perturbations",
    "generate_perturbations",
    "load_run",
    "RunResult",
]

_LAZY = {"load_run": "xai_bench.ops.load", "RunResult": "xai_bench.ops.load"}  # pandas only when used


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'xai_bench' has no attribute {name!r}")
