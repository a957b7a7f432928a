"""Erasure-based faithfulness: ERASER comprehensiveness and sufficiency with AOPC.

DeYoung et al., "ERASER: A Benchmark to Evaluate Rationalized NLP Models", ACL 2020,
section 4.2: comprehensiveness = m(x) - m(x without the rationale), sufficiency =
m(x) - m(rationale only), each aggregated as an Area Over the Perturbation Curve
(AOPC) over top-k% bins B = {1, 5, 10, 20, 50}%.

This project measures a model's output by its *shift*, the distance d(y_orig, y) of
the response to a changed prompt from the original response (OWMD for gSMILE), so
m(x) - m(x') becomes d(y_orig, y(x')): 0 when the change does not move the output,
larger the further it moves it.

The computation is split in two so that querying the model happens outside:

1. ``erasure_masks(attributions)`` gives, per bin, the keep-mask with the top-k words
   removed and the keep-mask with only the top-k words kept (1 = word kept, the
   perturbation convention; render them with ``Features.render``);
2. the caller queries the model on those prompts and measures each output shift;
3. ``aopc(removed_shifts, kept_shifts)`` averages them into comprehensiveness and
   sufficiency.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ._arrays import TieSeed, as_scores, top_k_mask
from .registry import register_metric

__all__ = ["ERASER_BINS", "ErasureMask", "erasure_k", "erasure_masks", "aopc"]

ERASER_BINS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5)

# bin * d is computed in floating point (0.07 * 100 = 7.000000000000001); subtracting
# this before the ceiling keeps exact products exact.
_CEIL_TOLERANCE = 1e-9


class ErasureMask(NamedTuple):
    """The two prompts to query for one bin. Masks are 0/1 int8 keep-masks of length d."""

    bin: float
    k: int
    remove_topk: np.ndarray  # 0 on the k most important words, 1 elsewhere
    keep_topk: np.ndarray  # 1 on the k most important words, 0 elsewhere


def erasure_k(bin_fraction: float, d: int) -> int:
    """Number of words in the top-``bin_fraction`` of a d-word prompt.

    Rounding: k = max(1, ceil(bin_fraction * d)) (a tolerance of 1e-9 absorbs
    floating-point error in the product), then capped at d - 1 so that neither the
    "removed" nor the "only kept" prompt is empty or identical to the original prompt
    (the empty prompt is never sent, METHOD.md). Short prompts therefore give the same
    k for several bins; AOPC still averages over all bins, as ERASER does.
    """
    if d < 2:
        raise ValueError(f"erasure needs at least 2 words: expected d >= 2, got {d}")
    if not (0.0 < bin_fraction <= 1.0) or math.isnan(bin_fraction):
        raise ValueError(f"bin: expected a fraction in (0, 1], got {bin_fraction!r}")
    k = max(1, math.ceil(bin_fraction * d - _CEIL_TOLERANCE))
    return min(k, d - 1)


def erasure_masks(
    attributions: Sequence[float] | np.ndarray,
    bins: Sequence[float] = ERASER_BINS,
    *,
    tie_seed: TieSeed = 0,
) -> list[ErasureMask]:
    """The keep-masks to query for ERASER's comprehensiveness and sufficiency.

    For each bin b (a fraction of the words; default ERASER's 1, 5, 10, 20, 50%):
    k = ``erasure_k(b, d)`` and the top-k words are the k largest attributions (ties
    broken in a random order seeded by ``tie_seed``, the ranking rule of
    ``metrics._arrays``). ``remove_topk`` keeps every word except the top-k (for
    comprehensiveness); ``keep_topk`` keeps only the top-k (for sufficiency). One entry
    per bin, in the order of ``bins``.

    Raises ValueError for fewer than 2 words, non-finite attributions, an empty or
    invalid list of bins.
    """
    scores = as_scores(attributions, "attributions")
    bins = tuple(float(b) for b in bins)
    if not bins:
        raise ValueError("bins: expected at least one bin fraction, got none")
    d = scores.shape[0]
    out: list[ErasureMask] = []
    for b in bins:
        k = erasure_k(b, d)
        keep = top_k_mask(scores, k, tie_seed)
        out.append(ErasureMask(bin=b, k=k, remove_topk=(1 - keep).astype(np.int8), keep_topk=keep))
    return out


def _as_shifts(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = as_scores(values, name)
    if np.any(arr < 0):
        bad = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(
            f"{name}: expected output-shift distances >= 0, got {arr[bad].item()!r} at position {bad}. "
            "Pass d(y_orig, y) for each bin, not a signed difference."
        )
    return arr


@register_metric(
    "comprehensiveness",
    higher_is_better=True,
    range=(0.0, math.inf),
    description="ERASER AOPC comprehensiveness: output shift when the top-k words are removed",
)
@register_metric(
    "sufficiency",
    higher_is_better=False,
    range=(0.0, math.inf),
    description="ERASER AOPC sufficiency: output shift when only the top-k words are kept",
)
def aopc(
    removed_shifts: Sequence[float] | np.ndarray,
    kept_shifts: Sequence[float] | np.ndarray,
) -> dict[str, float]:
    """ERASER comprehensiveness and sufficiency as AOPC over the bins (DeYoung et al. 2020, sec. 4.2).

    removed_shifts[b]: output shift d(y_orig, y) for the prompt with the top-k words of
        bin b removed (``erasure_masks(...)[b].remove_topk``).
    kept_shifts[b]: output shift for the prompt with only the top-k words of bin b
        kept (``erasure_masks(...)[b].keep_topk``).

    Definition:
        comprehensiveness = mean over bins of removed_shifts. If the attributions are
            faithful, removing the words they rank highest moves the output far:
            HIGHER is better.
        sufficiency = mean over bins of kept_shifts. If the top words suffice, the
            output barely moves when only they are kept: LOWER is better.
    The shift distance d(y_orig, y) plays the role of ERASER's m(x) - m(x').

    Range: both in [0, inf) in the units of the output distance (so only comparable
    between runs that use the same distance).

    Raises ValueError when the two lists differ in length, are empty, or hold negative
    or non-finite values.
    """
    removed = _as_shifts(removed_shifts, "removed_shifts")
    kept = _as_shifts(kept_shifts, "kept_shifts")
    if removed.shape != kept.shape:
        raise ValueError(
            f"removed_shifts and kept_shifts: expected one value per bin in each, "
            f"got {removed.shape[0]} and {kept.shape[0]}"
        )
    return {"comprehensiveness": float(np.mean(removed)), "sufficiency": float(np.mean(kept))}
