"""Word features of a prompt: the interpretable units gSMILE perturbs.

A prompt is split into words (maximal runs of non-space characters) with order and
duplicates kept. A task template may fix some words: only the words of its input text
are features, the template's own words are sent unchanged in every perturbation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import FeatureError

__all__ = ["Features", "prompt_features", "FeatureError", "TEXT_SLOT"]

TEXT_SLOT = "{text}"
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, kw_only=True)
class Features:
    """The feature words of one prompt and how to render any subset of them.

    words: the feature words, in prompt order, duplicates kept.
    separators: separators[i] is the whitespace that preceded words[i] in the input text
        (separators[0] is ""), so the full mask renders the input text exactly.
    template: None, or a string containing "{text}" once; the rendered input text is
        substituted there and every other character is sent as is.
    """

    words: tuple[str, ...]
    separators: tuple[str, ...]
    template: str | None = None

    def __post_init__(self) -> None:
        if len(self.words) != len(self.separators):
            raise FeatureError(
                f"words and separators must have equal length: expected {len(self.words)}, got {len(self.separators)}"
            )
        if self.template is not None and self.template.count(TEXT_SLOT) != 1:
            raise FeatureError(
                f"The template must contain {TEXT_SLOT!r} exactly once; got {self.template!r}."
            )

    @property
    def n(self) -> int:
        return len(self.words)

    def render(self, mask: Sequence[int] | np.ndarray) -> str:
        """The prompt text for a 0/1 mask (1 = word kept): kept words in original order."""
        mask = np.asarray(mask)
        if mask.shape != (self.n,):
            raise FeatureError(f"mask must have shape ({self.n},), got {mask.shape}")
        parts: list[str] = []
        for keep, word, sep in zip(mask, self.words, self.separators):
            if keep:
                parts.append((sep if parts else "") + word)
        text = "".join(parts)
        if self.template is None:
            return text
        return self.template.replace(TEXT_SLOT, text)

    @property
    def text(self) -> str:
        """The full (unperturbed) prompt."""
        return self.render(np.ones(self.n, dtype=np.int8))


def prompt_features(
    prompt: str,
    *,
    template: str | None = None,
    words: Sequence[str] | None = None,
    max_features: int | None = None,
) -> Features:
    """Split ``prompt`` into word features.

    prompt: the input text (the whole prompt, or the text that fills ``template``).
    template: optional task template with one "{text}" slot; its words are fixed.
    words: an explicit word list (e.g. a data set's annotator tokens); the prompt is
        then ignored for segmentation and words are joined with single spaces.
    max_features: raise FeatureError if there are more feature words than this.
    """
    if words is not None:
        ws = tuple(str(w) for w in words)
        if any(not w.strip() or _WORD.fullmatch(w) is None for w in ws):
            bad = next(i for i, w in enumerate(ws) if not w.strip() or _WORD.fullmatch(w) is None)
            raise FeatureError(f"Feature word {bad} ({ws[bad]!r}) is empty or contains whitespace.")
        seps = ("",) + (" ",) * (len(ws) - 1) if ws else ()
    else:
        if not isinstance(prompt, str):
            raise FeatureError(f"The prompt must be a string; got {type(prompt).__name__}.")
        matches = list(_WORD.finditer(prompt))
        ws = tuple(m.group() for m in matches)
        seps_l: list[str] = []
        prev_end = None
        for m in matches:
            seps_l.append("" if prev_end is None else prompt[prev_end : m.start()])
            prev_end = m.end()
        seps = tuple(seps_l)
    if not ws:
        raise FeatureError("The prompt is empty or only whitespace: there are no words to explain.")
    if max_features is not None and len(ws) > max_features:
        raise FeatureError(
            f"The prompt has {len(ws)} words, more than max_features={max_features}. "
            "Shorten the prompt or raise --max-features."
        )
    return Features(words=ws, separators=seps, template=template)
