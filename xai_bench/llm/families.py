"""Model families, told apart by the prefix of the model string (one owner for the prefixes).

``local/<name>``                  llama.cpp in this process (``xai_bench.llm.models.local``)
``oracle:<...>`` / ``oracle/...``   planted-truth control models (``oracle/`` is litellm's spelling)
``control:<kind>`` / ``control/``   failure-path control models
anything else                     a litellm provider reached over the network
"""

from __future__ import annotations

__all__ = ["LOCAL_PREFIX", "CONTROL_FAMILIES", "CONTROL_PREFIXES", "IN_PROCESS_PREFIXES",
           "is_control", "is_in_process", "is_local", "local_name"]

LOCAL_PREFIX = "local/"
CONTROL_FAMILIES = ("oracle", "control")
CONTROL_PREFIXES = tuple(f"{family}{sep}" for family in CONTROL_FAMILIES for sep in (":", "/"))
IN_PROCESS_PREFIXES = (LOCAL_PREFIX, *CONTROL_PREFIXES)


def is_local(model: str) -> bool:
    """``local/<name>``: a llama.cpp model run in this process."""
    return model.startswith(LOCAL_PREFIX)


def is_control(model: str) -> bool:
    """An oracle or control model: no language model behind it, no task skill."""
    return model.startswith(CONTROL_PREFIXES)


def is_in_process(model: str) -> bool:
    """Answered in this process (local or control): no network, no concurrency."""
    return model.startswith(IN_PROCESS_PREFIXES)


def local_name(model: str) -> str:
    """``local/smollm2-135m`` -> ``smollm2-135m``."""
    if not is_local(model):
        raise ValueError(f"Expected a model string starting with {LOCAL_PREFIX!r}. Got {model!r} instead.")
    return model[len(LOCAL_PREFIX):]
