"""Control models for failure handling, served through litellm as ``control/<kind>``.

- ``control/empty``: always answers the empty string.
- ``control:error`` / ``control/error``: every call fails (a provider-side error).
- ``control/flaky-<pct>``: a deterministic pct% of prompts (by prompt hash) fail; the
  others are answered like ``oracle`` would for the prompt's first word.
They exist so that the error paths are exercised through the real litellm call path.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litellm import CustomLLM
from litellm.llms.custom_llm import CustomLLMError

from ._response import last_user_message, make_response

__all__ = ["ControlLLM", "CONTROL_KINDS"]

CONTROL_KINDS = ("empty", "error", "flaky-<pct>")


class ControlLLM(CustomLLM):
    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        prompt = last_user_message(messages)
        if model == "empty":
            return make_response(model="control/empty", text="", prompt_tokens=len(prompt.split()), completion_tokens=0)
        if model == "error":
            raise CustomLLMError(status_code=500, message="control/error always fails (by design)")
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
