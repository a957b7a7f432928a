"""Perturbation generation: seeded binary masks over the word features.

Invariants (tested with hypothesis):
- every mask keeps at least one word (never the empty prompt);
- masks are unique whenever the space of non-empty masks (2^d - 1) allows;
  when J >= 2^d - 1 every non-empty mask is used exactly once (J is capped);
- the text of perturbation j is exactly ``features.render(masks[j])``: kept words,
  original order, duplicates kept;
- with ``exclude``, no drawn mask is one of the excluded masks (held-out perturbations
  exclude the training masks and the all-ones original; ``masks_left`` counts what is left).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import Features

__all__ = ["Perturbations", "generate_perturbations", "masks_left"]

_ENUMERATE_LIMIT = 16  # enumerate the whole mask space up to 2^16 masks


@dataclass(frozen=True, kw_only=True)
class Perturbations:
    """J perturbed prompts. masks[j, i] == 1 means word i is kept in prompt j."""

    masks: np.ndarray  # (J, d) int8
    texts: tuple[str, ...]
    seed: int
    keep_prob: float

    def __post_init__(self) -> None:
        if self.masks.ndim != 2:
            raise ValueError(f"masks must be 2-D, got shape {self.masks.shape}")
        if self.masks.shape[0] != len(self.texts):
            raise ValueError(f"expected {self.masks.shape[0]} texts, got {len(self.texts)}")

    def __len__(self) -> int:
        return len(self.texts)


def _bernoulli_prob(masks: np.ndarray, keep_prob: float) -> np.ndarray:
    k = masks.sum(axis=1)
    d = masks.shape[1]
    logp = k * np.log(keep_prob) + (d - k) * np.log1p(-keep_prob)
    p = np.exp(logp - logp.max())
    return p / p.sum()


def _excluded_keys(exclude: np.ndarray | None, d: int) -> set[bytes]:
    """The non-empty rows of ``exclude`` as int8 byte keys (the empty mask is never drawn anyway)."""
    if exclude is None:
        return set()
    rows = np.asarray(exclude)
    if rows.size == 0:
        return set()
    if rows.ndim != 2 or rows.shape[1] != d or not np.all((rows == 0) | (rows == 1)):
        raise ValueError(f"exclude: expected 0/1 masks of shape (k, {d}), got an array of shape {rows.shape}")
    return {r.tobytes() for r in rows.astype(np.int8) if r.any()}


def masks_left(d: int, exclude: np.ndarray | None = None) -> int:
    """How many non-empty masks over ``d`` words are not in ``exclude``: 2^d - 1 - |exclude|."""
    return 2**d - 1 - len(_excluded_keys(exclude, d))


def generate_perturbations(
    features: Features, *, n: int = 64, keep_prob: float = 0.5, seed: int = 0, exclude: np.ndarray | None = None
) -> Perturbations:
    """Draw ``n`` unique non-empty masks, each word kept with probability ``keep_prob``.

    Sampling is Bernoulli(keep_prob) per word conditioned on the mask being non-empty and
    not yet drawn. For small d the whole space is enumerated and sampled without
    replacement with the same Bernoulli probabilities; when n >= 2^d - 1 all non-empty
    masks are returned (in a seeded random order).

    ``exclude`` (0/1 masks, shape (k, d)): masks that must not be drawn, e.g. the training
    masks and the all-ones original when drawing held-out perturbations. ``n`` is then
    capped at the masks left (``masks_left``); ValueError when none is left. Without
    ``exclude`` the draw is the same as before the parameter existed.
    """
    if n < 1:
        raise ValueError(f"The 'n' parameter must be an int >= 1. Got {n!r} instead.")
    if not 0 < keep_prob < 1:
        raise ValueError(f"The 'keep_prob' parameter must be a float in the range (0, 1). Got {keep_prob!r} instead.")
    d = features.n
    excluded = _excluded_keys(exclude, d)
    space = 2**d - 1
    left = space - len(excluded)
    if left < 1:
        raise ValueError(f"exclude: every one of the {space} non-empty masks over {d} words is excluded; "
                         "no mask is left to draw.")
    n = min(n, left) if excluded else n
    rng = np.random.default_rng(seed)
    if d <= _ENUMERATE_LIMIT and left <= 8 * n:
        codes = np.arange(1, space + 1, dtype=np.int64)
        all_masks = ((codes[:, None] >> np.arange(d)[None, :]) & 1).astype(np.int8)
        if excluded:
            all_masks = all_masks[[m.tobytes() not in excluded for m in all_masks]]
        if n >= left:
            masks = all_masks[rng.permutation(left)]
        else:
            idx = rng.choice(left, size=n, replace=False, p=_bernoulli_prob(all_masks, keep_prob))
            masks = all_masks[idx]
    else:
        seen: set[bytes] = set(excluded)
        rows: list[np.ndarray] = []
        attempts = 0
        while len(rows) < n:
            attempts += 1
            if attempts > 1000 * n:
                raise RuntimeError(
                    f"Could not draw {n} unique masks over {d} words with keep_prob={keep_prob}; "
                    "lower n or move keep_prob towards 0.5."
                )
            row = (rng.random(d) < keep_prob).astype(np.int8)
            if not row.any():
                continue
            key = row.tobytes()
            if key in seen:
                continue
            seen.add(key)
            rows.append(row)
        masks = np.stack(rows)
    texts = tuple(features.render(m) for m in masks)
    return Perturbations(masks=masks, texts=texts, seed=seed, keep_prob=keep_prob)
