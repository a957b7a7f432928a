"""Build litellm ModelResponse objects for the in-process providers."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["make_response", "last_user_message"]


def last_user_message(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # OpenAI content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def make_response(
    *, model: str, text: str, prompt_tokens: int, completion_tokens: int, logprobs: Any = None
) -> Any:
    import litellm

    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return litellm.ModelResponse(
        model=model,
        created=int(time.time()),
        choices=[choice],
        usage=litellm.Usage(
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens
        ),
    )
