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
]
