"""The offline switches: environment variables that keep libraries off the network.

One owner for them. Every entry point that may import litellm, sentence-transformers,
MLflow or DVC calls ``set_offline_env`` first (litellm fetches a cost map on import,
Hugging Face libraries look for updates). Values already set by the user win
(``os.environ.setdefault``), so ``HF_HUB_OFFLINE=0`` still allows a download.
"""

from __future__ import annotations

import os

__all__ = ["OFFLINE_ENV", "TELEMETRY_OFF_ENV", "set_offline_env"]

# litellm and Hugging Face: no cost-map fetch, no hub calls, quiet progress output.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}

# DVC and MLflow usage reporting.
TELEMETRY_OFF_ENV = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def set_offline_env(*, telemetry: bool = False) -> None:
    """Set ``OFFLINE_ENV`` (and ``TELEMETRY_OFF_ENV`` with ``telemetry``) where not already set."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    if telemetry:
        for key, value in TELEMETRY_OFF_ENV.items():
            os.environ.setdefault(key, value)
