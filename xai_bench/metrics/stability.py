"""Attribution stability: overlap of the top-k words before and after a minimal prompt change.

gSMILE paper, section 4.4.3 (eq. 15) and section 5.2.3 / Table 3: the prompt is changed
minimally (the paper appends one token), the explanation is recomputed, and the Jaccard
index of the two sets of most important tokens measures how stable the explanation is.

Two steps, so that explaining happens outside:
1. ``minimal_changes(words, seed=...)`` gives the changed prompts (as word lists) with a
   map from original to new word positions;
2. the caller explains both prompts and calls ``topk_jaccard(...)``, passing the map as
   ``alignment`` so that a word changed in place (synonym, punctuation) is still
   compared with itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ._arrays import TieSeed, as_binary_mask, as_scores, rank_order
from .registry import register_metric

__all__ = ["topk_jaccard", "MinimalChange", "minimal_changes", "SYNONYMS", "APPEND_WORD", "CHANGE_KINDS"]

APPEND_WORD = "please"
CHANGE_KINDS: tuple[str, ...] = ("append", "punctuation", "synonym")
_FINAL_PUNCTUATION = ".?!,;:"

# A deliberately small table of common, meaning-neutral words and a synonym for each.
# Keys and values are lower case; case and attached punctuation are restored on use.
SYNONYMS: dict[str, str] = {
    "about": "regarding",
    "regarding": "about",
    "big": "large",
    "large": "big",
    "small": "little",
    "little": "small",
    "quick": "fast",
    "fast": "quick",
    "begin": "start",
    "start": "begin",
    "help": "assist",
    "assist": "help",
    "give": "provide",
    "provide": "give",
    "make": "create",
    "create": "make",
    "simple": "basic",
    "basic": "simple",
    "brief": "short",
    "short": "brief",
    "choose": "select",
    "select": "choose",
    "maybe": "perhaps",
    "perhaps": "maybe",
    "very": "really",
    "really": "very",
    "often": "frequently",
    "frequently": "often",
    "please": "kindly",
    "kindly": "please",
    "explain": "describe",
    "describe": "explain",
    "important": "significant",
    "significant": "important",
}

_AFFIX = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE)


def _identities(tokens: Sequence[str]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out: list[tuple[str, int]] = []
    for t in tokens:
        n = seen.get(t, 0)
        out.append((t, n))
        seen[t] = n + 1
    return out


def _check_pair(tokens: Sequence[str], attr: Sequence[float] | np.ndarray, side: str) -> np.ndarray:
    scores = as_scores(attr, f"attr_{side}")
    if len(tokens) != scores.shape[0]:
        raise ValueError(
            f"tokens_{side} and attr_{side}: expected one attribution per token ({len(tokens)}), "
            f"got {scores.shape[0]}"
        )
    return scores


@register_metric(
    "stability_jaccard",
    higher_is_better=True,
    range=(0.0, 1.0),
    returns="value",
    description="Jaccard index of top-k token sets before and after a minimal prompt change",
)
def topk_jaccard(
    tokens_a: Sequence[str],
    attr_a: Sequence[float] | np.ndarray,
    tokens_b: Sequence[str],
    attr_b: Sequence[float] | np.ndarray,
    k: int,
    *,
    alignment: Mapping[int, int] | None = None,
    tie_seed: TieSeed = 0,
    tie_seed_b: TieSeed | None = None,
) -> float:
    """Jaccard index |A ∩ B| / |A ∪ B| of the top-k token sets of two explanations (paper eq. 15).

    A is the set of the k tokens of prompt a with the largest attributions, B the same
    for prompt b (k is capped at each prompt's length). Larger attribution = more important.

    Ties follow the ranking rule of ``metrics._arrays``: a random order seeded by
    ``tie_seed`` for a and by ``tie_seed_b`` for b (default: derived from ``tie_seed``,
    independent of a's). Two independent orders matter: with ties broken by position, two
    explanations that learned nothing (all attributions equal) would pick the same first
    k words and score a perfect 1.0; independent random orders score them at chance.

    Token identity, so that repeated words are handled:
    - without ``alignment``, a token is the pair (word, occurrence index): in
      "the cat saw the dog" the two "the" are ("the", 0) and ("the", 1), and they match
      the first and second "the" of the other prompt. Words compare as exact strings.
    - with ``alignment`` (original position in a -> position in b, as returned by
      ``minimal_changes``), token i of a and token alignment[i] of b are the same token
      even if its text changed ("life?" -> "life", "big" -> "large"); tokens of b that
      no position of a maps to (an appended word) match nothing.

    Range: [0, 1], higher is better (1 = the same top-k tokens, 0 = disjoint).

    Raises ValueError when tokens and attributions differ in length, k < 1, or the
    alignment is out of range or maps two positions to the same one.
    """
    scores_a = _check_pair(tokens_a, attr_a, "a")
    scores_b = _check_pair(tokens_b, attr_b, "b")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    k = int(k)

    ids_a: list[object]
    ids_b: list[object]
    if alignment is None:
        ids_a = list(_identities(tokens_a))
        ids_b = list(_identities(tokens_b))
    else:
        inverse: dict[int, int] = {}
        for i, j in alignment.items():
            if not (0 <= i < len(tokens_a)) or not (0 <= j < len(tokens_b)):
                raise ValueError(
                    f"alignment: expected positions in [0, {len(tokens_a)}) -> [0, {len(tokens_b)}), got {i} -> {j}"
                )
            if j in inverse:
                raise ValueError(f"alignment: expected a one-to-one map, got {inverse[j]} and {i} both -> {j}")
            inverse[j] = i
        ids_a = [("a", i) for i in range(len(tokens_a))]
        ids_b = [("a", inverse[j]) if j in inverse else ("b", j) for j in range(len(tokens_b))]

    seed_b = tie_seed_b if tie_seed_b is not None else [*np.atleast_1d(tie_seed).tolist(), 1]
    top_a = {ids_a[i] for i in rank_order(scores_a, tie_seed)[:k]}
    top_b = {ids_b[j] for j in rank_order(scores_b, seed_b)[:k]}
    return len(top_a & top_b) / len(top_a | top_b)


@dataclass(frozen=True, kw_only=True)
class MinimalChange:
    """One minimally changed prompt.

    kind: "append", "punctuation" or "synonym".
    words: the changed prompt's words, in order.
    position_map: original word position -> position of the same word in ``words``
        (every original word that survives; pass it as ``topk_jaccard(alignment=...)``).
    description: what was changed, for reports.
    fallback: True when the requested change did not apply and a token was appended
        instead (synonym change on a prompt without a word from ``SYNONYMS``).
    """

    kind: str
    words: tuple[str, ...]
    position_map: dict[int, int] = field(default_factory=dict)
    description: str = ""
    fallback: bool = False


def _match_case(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _append(words: tuple[str, ...], append_word: str, *, kind: str, fallback: bool, why: str = "") -> MinimalChange:
    return MinimalChange(
        kind=kind,
        words=words + (append_word,),
        position_map={i: i for i in range(len(words))},
        description=f"appended {append_word!r}{why}",
        fallback=fallback,
    )


def _punctuation(words: tuple[str, ...]) -> MinimalChange:
    last = words[-1]
    n = len(words)
    identity = {i: i for i in range(n)}
    if last[-1] in _FINAL_PUNCTUATION:
        stripped = last[:-1]
        if stripped:
            return MinimalChange(
                kind="punctuation",
                words=words[:-1] + (stripped,),
                position_map=identity,
                description=f"removed final {last[-1]!r} from {last!r}",
            )
        if n > 1:  # the last word is a lone punctuation mark: drop it
            return MinimalChange(
                kind="punctuation",
                words=words[:-1],
                position_map={i: i for i in range(n - 1)},
                description=f"removed final word {last!r}",
            )
    return MinimalChange(
        kind="punctuation",
        words=words[:-1] + (last + ".",),
        position_map=identity,
        description=f"added '.' to {last!r}",
    )


def _synonym(
    words: tuple[str, ...], rng: np.random.Generator, protected: np.ndarray, append_word: str
) -> MinimalChange:
    candidates: list[tuple[int, str]] = []
    for i, w in enumerate(words):
        if protected[i]:
            continue
        m = _AFFIX.match(w)
        if m is None:  # cannot happen: the pattern matches every string
            continue
        pre, core, post = m.groups()
        syn = SYNONYMS.get(core.lower())
        if syn is not None:
            candidates.append((i, pre + _match_case(core, syn) + post))
    if not candidates:
        return _append(words, append_word, kind="synonym", fallback=True, why=" (no replaceable word in SYNONYMS)")
    i, new = candidates[int(rng.integers(len(candidates)))]
    return MinimalChange(
        kind="synonym",
        words=words[:i] + (new,) + words[i + 1 :],
        position_map={j: j for j in range(len(words))},
        description=f"replaced {words[i]!r} at position {i} with {new!r}",
    )


def minimal_changes(
    words: Sequence[str],
    *,
    seed: int | np.random.Generator = 0,
    rationale_mask: Sequence[int] | np.ndarray | None = None,
    append_word: str = APPEND_WORD,
) -> dict[str, MinimalChange]:
    """The minimal prompt changes used for stability, keyed by kind.

    - "append": one token is appended at the end, as in the paper (section 5.2.3); by
      default the neutral word "please", which asks for nothing new.
    - "punctuation": a final punctuation mark is removed if the last word ends with one
      of ``.?!,;:`` (a last word that is only punctuation is dropped), otherwise "." is
      attached to the last word.
    - "synonym": one word found in the small built-in ``SYNONYMS`` table of common,
      meaning-neutral words is replaced by its synonym, keeping case and attached
      punctuation. Words marked 1 in ``rationale_mask`` (the keywords) are never
      replaced. When several words qualify, ``seed`` picks one. When none does, a token
      is appended instead and ``fallback`` is True.

    Each change comes with ``position_map`` (original position -> new position) for
    ``topk_jaccard(alignment=...)``. Deterministic given ``seed``.

    Raises ValueError for an empty word list, an empty or whitespace-containing word,
    or a rationale mask of the wrong length.
    """
    ws = tuple(str(w) for w in words)
    if not ws:
        raise ValueError("words: expected at least 1 word, got 0")
    for i, w in enumerate(ws):
        if not w or any(c.isspace() for c in w):
            raise ValueError(f"words: expected non-empty words without whitespace, got {w!r} at position {i}")
    if not append_word or any(c.isspace() for c in append_word):
        raise ValueError(f"append_word: expected one non-empty word without whitespace, got {append_word!r}")
    if rationale_mask is None:
        protected = np.zeros(len(ws), dtype=np.int8)
    else:
        protected = as_binary_mask(rationale_mask, "rationale_mask", length=len(ws))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return {
        "append": _append(ws, append_word, kind="append", fallback=False),
        "punctuation": _punctuation(ws),
        "synonym": _synonym(ws, rng, protected, append_word),
    }
