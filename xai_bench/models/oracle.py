"""Control models with planted ground truth: ``oracle:<word>,<word>,...``.

The answer depends only on which listed keywords occur as words of the user prompt
(case-insensitive, surrounding punctuation ignored): one sentence per present keyword, in
the order the keywords are listed, and a fixed sentence when none is present. Every other
word of the prompt has exactly zero influence, so the true attribution of a prompt is known:
the keywords are the important words. It is served through litellm like any other model.
"""

from __future__ import annotations

import re
from typing import Any

from litellm import CustomLLM

from ._response import last_user_message, make_response

__all__ = ["OracleLLM", "oracle_answer", "parse_keywords"]

_STRIP = re.compile(r"^\W+|\W+$", re.UNICODE)
NONE_ANSWER = "I have nothing to say about this."


def parse_keywords(spec: str) -> tuple[str, ...]:
    """Keywords of an oracle model name (``"meaning,life"`` -> ``("meaning", "life")``)."""
    words = tuple(w.strip().lower() for w in spec.split(",") if w.strip())
    if not words:
        raise ValueError(f"An oracle model needs at least one keyword, e.g. 'oracle:meaning,life'; got {spec!r}.")
    return words


def _normalise(word: str) -> str:
    return _STRIP.sub("", word.lower())


def oracle_answer(prompt: str, keywords: tuple[str, ...]) -> str:
    present = {_normalise(w) for w in prompt.split()}
    sentences = [f"The prompt talks about {kw}." for kw in keywords if kw in present]
    return " ".join(sentences) if sentences else NONE_ANSWER


class OracleLLM(CustomLLM):
    """litellm provider ``oracle``: the model name is the comma-separated keyword list."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        keywords = parse_keywords(model)
        prompt = last_user_message(messages)
        text = oracle_answer(prompt, keywords)
        return make_response(
            model=f"oracle/{model}", text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split())
        )

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        return self.completion(model, messages, *args, **kwargs)
