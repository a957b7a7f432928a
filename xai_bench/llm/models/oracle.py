"""Control models with planted ground truth: ``oracle:<word>,<word>,...[|slot=<p>:<s>:<hash>]``.

The answer depends only on which listed keywords occur as words of the input text
(case-insensitive, surrounding punctuation ignored): one sentence per present keyword, in
the order the keywords are listed, and a fixed sentence when none is present. Every other
word has exactly zero influence, so the true attribution of a prompt is known: the keywords
are the important words. It is served through litellm like any other model.

The input text. Without a slot, it is the whole user prompt. A data set's task template
(``features.Features.template``, "...{text}...") adds fixed words around the input words:
instructions, a question header, answer options. The oracle must not read them: a rationale
word that also occurs in the template ("river" in an answer option) would keep the answer
unchanged when the input word is removed, and the planted truth would be wrong. So an oracle
resolved for a template (``oracle_model(keywords, template)``, what ``oracle:@rationale`` does)
carries the template's slot: ``p`` and ``s``, the lengths of the fixed text before and after
``{text}``, and the first 8 hex digits of the sha256 of that fixed text. Every rendering of
the template (any keep-mask, stability and erasure prompts included) is ``prefix + text +
suffix``, so the oracle reads exactly ``prompt[p : len(prompt) - s]``: the kept input words
and nothing else. A prompt whose fixed parts do not match the hash is refused (an error, not a
silent answer), so the slot can never cut a prompt of another template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from litellm import CustomLLM

from ._response import last_user_message, make_response

__all__ = ["OracleLLM", "Slot", "oracle_answer", "oracle_model", "parse_keywords", "parse_spec"]

_STRIP = re.compile(r"^\W+|\W+$", re.UNICODE)
NONE_ANSWER = "I have nothing to say about this."
SLOT_MARK = "|slot="
_TEXT_SLOT = "{text}"  # features.TEXT_SLOT (not imported: the model providers load without the pipeline)


@dataclass(frozen=True)
class Slot:
    """Where the input text sits in a rendered template: after ``prefix`` characters, before ``suffix``."""

    prefix: int
    suffix: int
    digest: str  # first 8 hex digits of sha256(prefix text + NUL + suffix text)

    @classmethod
    def of_template(cls, template: str) -> "Slot":
        if template.count(_TEXT_SLOT) != 1:
            raise ValueError(f"The template must contain {_TEXT_SLOT!r} exactly once; got {template!r}.")
        before, _, after = template.partition(_TEXT_SLOT)
        return cls(len(before), len(after), _digest(before, after))

    def text(self, prompt: str) -> str:
        """The input text of a rendered prompt; ValueError when its fixed parts are not this template's."""
        end = len(prompt) - self.suffix
        if end < self.prefix or _digest(prompt[: self.prefix], prompt[end:]) != self.digest:
            raise ValueError(f"oracle: the prompt does not follow the template this oracle was resolved for "
                             f"(slot {self.prefix}:{self.suffix}:{self.digest}): {prompt[:60]!r}")
        return prompt[self.prefix : end]

    def spec(self) -> str:
        return f"{SLOT_MARK}{self.prefix}:{self.suffix}:{self.digest}"


def _digest(before: str, after: str) -> str:
    return hashlib.sha256(f"{before}\0{after}".encode("utf-8")).hexdigest()[:8]


def parse_spec(spec: str) -> tuple[tuple[str, ...], Slot | None]:
    """Keywords and slot of an oracle model name (``"meaning,life"`` -> ``(("meaning", "life"), None)``)."""
    head, mark, tail = spec.partition(SLOT_MARK)
    words = tuple(w.strip().lower() for w in head.split(",") if w.strip())
    if not words:
        raise ValueError(f"An oracle model needs at least one keyword, e.g. 'oracle:meaning,life'; got {spec!r}.")
    if not mark:
        return words, None
    parts = tail.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[2]) != 8:
        raise ValueError(f"An oracle slot is '{SLOT_MARK}<prefix length>:<suffix length>:<8 hex digits>'; "
                         f"got {spec!r}.")
    return words, Slot(int(parts[0]), int(parts[1]), parts[2])


def parse_keywords(spec: str) -> tuple[str, ...]:
    """Keywords of an oracle model name (``"meaning,life"`` -> ``("meaning", "life")``)."""
    return parse_spec(spec)[0]


def oracle_model(keywords: tuple[str, ...] | list[str], template: str | None = None) -> str:
    """The model string of an oracle with these keywords that reads only the ``{text}`` slot of
    ``template`` (no slot for no template or the bare ``"{text}"``: the whole prompt is the text)."""
    bad = [k for k in keywords if "," in k or SLOT_MARK in k or not k.strip()]
    if bad or not keywords:
        raise ValueError(f"oracle keywords must be non-empty and hold no ',' or {SLOT_MARK!r}; got {list(keywords)!r}.")
    slot = "" if template is None or template == _TEXT_SLOT else Slot.of_template(template).spec()
    return "oracle:" + ",".join(keywords) + slot


def _normalise(word: str) -> str:
    return _STRIP.sub("", word.lower())


def oracle_answer(prompt: str, keywords: tuple[str, ...], slot: Slot | None = None) -> str:
    """The oracle's answer: one sentence per keyword among the words of the input text (the
    ``slot`` of ``prompt``, or all of it)."""
    text = prompt if slot is None else slot.text(prompt)
    present = {_normalise(w) for w in text.split()}
    sentences = [f"The prompt talks about {kw}." for kw in keywords if kw in present]
    return " ".join(sentences) if sentences else NONE_ANSWER


class OracleLLM(CustomLLM):
    """litellm provider ``oracle``: the model name is the comma-separated keyword list (and slot)."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        keywords, slot = parse_spec(model)
        prompt = last_user_message(messages)
        text = oracle_answer(prompt, keywords, slot)
        return make_response(
            model=f"oracle/{model}", text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split())
        )

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        return self.completion(model, messages, *args, **kwargs)
