"""Control models for failure handling, served through litellm as ``control/<kind>``.

- ``control/empty``: always answers the empty string.
- ``control:error`` / ``control/error``: every call fails (a provider-side error).
- ``control/flaky-<pct>``: a deterministic pct% of prompts (by prompt hash) fail; the
  others are answered like ``oracle`` would for the prompt's first word.
- ``control:noisy-<pct>:<w1>,<w2>``: an oracle with sampling noise and log-probabilities,
  for comparing output modes against a planted truth. At temperature 0 it answers like
  ``oracle:<w1>,<w2>``. At temperature > 0 each call (seeded by prompt and ``seed``) returns,
  with probability pct%, one of a few distractor sentences unrelated to the prompt, else
  the oracle answer. With ``logprobs``, the first token's top-k distribution is exact and
  noise-free: each listed keyword present in the prompt raises its own token's logit.
They exist so that the error paths are exercised through the real litellm call path.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...offline import set_offline_env

set_offline_env()  # before litellm is imported: its import otherwise fetches a cost map

from litellm import CustomLLM  # noqa: E402
from litellm.llms.custom_llm import CustomLLMError

from ...errors import ModelError
from ._response import last_user_message, make_response

__all__ = ["ControlLLM", "CONTROL_KINDS", "check_control_model"]

CONTROL_KINDS = ("empty", "error", "flaky-<pct>", "noisy-<pct>:<w1>,<w2>")


def _pct(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 <= int(text) <= 100 else None


def check_control_model(model: str) -> None:
    """Raise ModelError naming ``model`` and the valid forms when it is a malformed control spec.

    Accepts both spellings (``control:flaky-5``, ``control/flaky-5``); other model strings pass.
    """
    for prefix in ("control:", "control/"):
        if model.startswith(prefix):
            kind = model[len(prefix):]
            break
    else:
        return
    ok = kind in ("empty", "error")
    if kind.startswith("flaky-"):
        ok = _pct(kind[len("flaky-"):]) is not None
    elif kind.startswith("noisy-"):
        from .oracle import parse_keywords

        head, sep, words = kind.partition(":")
        try:
            ok = bool(sep) and _pct(head[len("noisy-"):]) is not None and bool(parse_keywords(words))
        except ValueError:
            ok = False
    if not ok:
        raise ModelError(f"Malformed control model {model!r}. Valid forms: "
                         + ", ".join(f"'control:{k}'" for k in CONTROL_KINDS)
                         + " (pct an integer from 0 to 100, e.g. 'control:flaky-5').")

_DISTRACTORS = (
    "Here is a short answer.",
    "Let me think about that for a moment.",
    "That is an interesting question with many sides.",
    "Sure, I can help with this request.",
)
_GENERIC = ("The", "I", "Sure", "Here", "It", "This", "Let", "A")


def _noisy(model: str, prompt: str, params: dict[str, Any]) -> Any:
    import math
    import random

    from .oracle import _normalise, oracle_answer, parse_keywords

    head, _, words = model.partition(":")
    pct = int(head.split("-", 1)[1])
    keywords = parse_keywords(words)
    present = {_normalise(w) for w in prompt.split()}
    temperature = float(params.get("temperature") or 0.0)
    text = oracle_answer(prompt, keywords)
    if temperature > 0:
        seed = params.get("seed")
        rng = random.Random(hashlib.sha256(f"{seed}|{prompt}".encode()).hexdigest())
        if rng.random() < pct / 100:
            text = rng.choice(_DISTRACTORS)
    logprobs = None
    if params.get("logprobs") or params.get("top_logprobs"):
        k = int(params.get("top_logprobs") or 1)
        logits = {tok: 1.0 - 0.1 * i for i, tok in enumerate(_GENERIC)}
        for kw in keywords:
            logits[kw] = 3.0 if kw in present else -2.0
        z = math.log(sum(math.exp(v) for v in logits.values()))
        ranked = sorted(logits.items(), key=lambda kv: -kv[1])[:k]
        tops = [{"token": t, "logprob": v - z, "bytes": None} for t, v in ranked]
        logprobs = {"content": [{"token": tops[0]["token"], "logprob": tops[0]["logprob"], "bytes": None,
                                 "top_logprobs": tops}]}
        text = tops[0]["token"] if int(params.get("max_tokens") or 48) <= 1 else text
    return make_response(model=f"control/{model}", text=text, prompt_tokens=len(prompt.split()),
                         completion_tokens=len(text.split()), logprobs=logprobs)


class ControlLLM(CustomLLM):
    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        prompt = last_user_message(messages)
        if model == "empty":
            return make_response(model="control/empty", text="", prompt_tokens=len(prompt.split()), completion_tokens=0)
        if model == "error":
            raise CustomLLMError(status_code=500, message="control/error always fails (by design)")
        if model.startswith("noisy-"):
            return _noisy(model, prompt, dict(kwargs.get("optional_params") or {}))
        if model.startswith("flaky-"):
            pct = int(model.split("-", 1)[1])
            bucket = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 100
            if bucket < pct:
                raise CustomLLMError(status_code=503, message=f"control/{model}: injected failure")
            words = sorted({w.lower() for w in prompt.split()})
            text = "Words: " + " ".join(words[:8])
            return make_response(model=f"control/{model}", text=text, prompt_tokens=len(prompt.split()),
                                 completion_tokens=len(text.split()))
        raise CustomLLMError(status_code=400, message=f"Unknown control model {model!r}; use one of {CONTROL_KINDS}")

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        return self.completion(model, messages, *args, **kwargs)
