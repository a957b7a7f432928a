"""Input checks and the one ranking rule shared by the metric modules (private).

Ranking rule: words are ordered by attribution, largest first; ties are broken by a
seeded random order of the positions (``tie_seed``; the benchmark derives it from the run
seed and the example id). Every "top-k" in xai_bench.metrics uses this order.

Why not by position: an explanation that learned nothing (every attribution 0, e.g. when
the output never changed) would then always pick the first k words, and two such
explanations of a prompt and of its minimally changed copy would share their top-k
exactly (stability Jaccard 1.0); a rationale at the start of the prompt would look found.
A seeded random order scores a tie at chance level, and the same seed gives the same order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["as_scores", "as_binary_mask", "rank_order", "top_k_mask", "TieSeed"]


def as_scores(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array of finite numbers, or ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least 1 value, got 0")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}: expected finite numbers, got {float(arr[bad[0]])!r} at position {int(bad[0])}")
    return arr


def as_binary_mask(values: Sequence[int] | np.ndarray, name: str, *, length: int | None = None) -> np.ndarray:
    """``values`` as a 1-D int8 array of 0/1 (optionally of a given length), or ValueError."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D 0/1 mask, got an array of shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name}: expected length {length} (one entry per word), got {arr.shape[0]}")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        bad = int(np.flatnonzero(~((arr == 0) | (arr == 1)))[0])
        raise ValueError(f"{name}: expected only 0 and 1, got {arr[bad].item()!r} at position {bad}")
    return arr.astype(np.int8)


TieSeed = int | Sequence[int]


def rank_order(scores: np.ndarray, tie_seed: TieSeed = 0) -> np.ndarray:
    """Positions sorted by score descending, ties in a random order seeded by ``tie_seed``
    (an int or a sequence of ints, as ``numpy.random.default_rng`` takes)."""
    tiebreak = np.random.default_rng(tie_seed).permutation(scores.shape[0])
    return np.lexsort((tiebreak, -scores))  # the last key sorts first


def top_k_mask(scores: np.ndarray, k: int, tie_seed: TieSeed = 0) -> np.ndarray:
    """0/1 int8 mask of the k highest-scoring positions (ties broken by ``rank_order``)."""
    d = scores.shape[0]
    if not 0 <= k <= d:
        raise ValueError(f"k: expected an integer in [0, {d}], got {k}")
    mask = np.zeros(d, dtype=np.int8)
    mask[rank_order(scores, tie_seed)[:k]] = 1
    return mask
