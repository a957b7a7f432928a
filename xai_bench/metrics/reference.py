"""Agreement of an attribution with a reference attribution (the white-box ablation row).

``reference_spearman`` is Spearman's rank correlation between a method's attributions
and a reference attribution of the same words (``xai_bench.llm.models.whitebox``: the
leave-one-word-out drop in the log-probability of the model's own answer). It answers
"does the black-box method rank the words as direct ablation does?". It is undefined (NaN)
when either side is constant (no ranking to compare) or the prompt has fewer than 3 words
(a rank correlation of 2 items is always +1 or -1).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .registry import register_metric

__all__ = ["reference_spearman"]


@register_metric("whitebox_spearman", higher_is_better=True, range=(-1.0, 1.0), returns="value",
                 description="Spearman correlation with the white-box leave-one-word-out log-probability drop")
def reference_spearman(attributions: Sequence[float] | np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho between ``attributions`` and ``reference`` (same words, same order).

    Definition. Both vectors are replaced by their ranks (ties get their average rank) and
    the Pearson correlation of the ranks is returned (Spearman, 1904; ``scipy.stats.spearmanr``),
    the rank analogue of the Pearson r the gSMILE paper uses across models in section 4.4.2.
    With the white-box leave-one-word-out reference it measures whether a black-box method
    orders the words as direct ablation of the model does.

    Range [-1, 1]; higher is better (1: the same order as the reference, 0: unrelated,
    -1: reversed). NaN when either side is constant, holds a non-finite value, or has fewer
    than 3 words.
    """
    from scipy.stats import spearmanr

    a = np.asarray(attributions, dtype=float)
    r = np.asarray(reference, dtype=float)
    if a.shape != r.shape or a.ndim != 1:
        raise ValueError(f"attributions and reference must be 1-D of the same length; got {a.shape} and {r.shape}")
    if a.size < 3 or not (np.isfinite(a).all() and np.isfinite(r).all()) or np.ptp(a) == 0 or np.ptp(r) == 0:
        return math.nan
    return float(spearmanr(a, r).statistic)
