"""The one door to every model: litellm, with xai-bench's in-process providers registered.

``local/<name>``  llama.cpp models shipped in PyPI packages (see ``xai_bench.llm.models.local``)
``oracle/<w1>,<w2>``  deterministic control models with planted ground truth; users write
                  them as ``oracle:<w1>,<w2>`` (``litellm_model_name`` maps the spelling).
``control/<kind>``  failure-path control models (empty answers, errors, a share of failures).
Everything else (``openai/...``, ``anthropic/...``, ``ollama/...``, an ``api_base``) goes to
litellm unchanged.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from ...offline import set_offline_env
from ..families import CONTROL_FAMILIES

__all__ = ["get_litellm", "litellm_model_name"]

_lock = threading.Lock()
_registered = False


def litellm_model_name(model: str) -> str:
    """The litellm spelling of a user model string (``oracle:a,b`` -> ``oracle/a,b``)."""
    for family in CONTROL_FAMILIES:
        if model.startswith(family + ":"):
            return family + "/" + model[len(family) + 1 :]
    return model


def _quiet_litellm_loggers() -> None:
    """Pin litellm's loggers to WARNING unless $LITELLM_LOG chose a level.

    They have no level of their own, so they follow the root logger: a host that sets the root
    to INFO (importing Airflow does, with a handler on stdout) otherwise gets two INFO lines per
    model call, on stdout too, in task logs and in front of ``--json`` output.
    """
    import logging

    if os.environ.get("LITELLM_LOG"):
        return
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def get_litellm() -> ModuleType:
    """Import litellm offline-safe and register the ``local`` and ``oracle`` providers once."""
    global _registered
    set_offline_env()
    import litellm

    with _lock:
        if not _registered:
            from .control import ControlLLM
            from .local import LocalLLM
            from .oracle import OracleLLM

            litellm.suppress_debug_info = True
            _quiet_litellm_loggers()
            providers = [p for p in (litellm.custom_provider_map or []) if p.get("provider") not in ("local", "oracle", "control")]
            providers += [
                {"provider": "local", "custom_handler": LocalLLM()},
                {"provider": "oracle", "custom_handler": OracleLLM()},
                {"provider": "control", "custom_handler": ControlLLM()},
            ]
            litellm.custom_provider_map = providers
            from litellm.utils import custom_llm_setup

            custom_llm_setup()
            _registered = True
    return litellm
