"""The gate's statistics: one metric's per-prompt values paired between two runs, and the
Student t interval of the mean paired difference (``metrics.aggregate.t_interval``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .thresholds import DEFAULT_CONFIDENCE

__all__ = ["Pairs", "pair_values", "paired_interval"]


def paired_interval(differences: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``differences`` and its two-sided Student t interval.

    ``scipy.stats.t`` with n - 1 degrees of freedom and the standard error s / sqrt(n)
    (s with ddof = 1). When every difference is equal the interval has zero width (the
    mean is known exactly from the pairs). Needs at least two finite differences.
    """
    import numpy as np

    from ..metrics.aggregate import t_interval  # the one Student t interval of the project

    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"paired_interval: expected >= 2 finite differences, got {d.tolist()!r:.120}")
    if not 0 < confidence < 1:
        raise ValueError(f"paired_interval: confidence must be in (0, 1), got {confidence!r}")
    ci = t_interval(d, confidence=confidence)
    return ci.mean, ci.low, ci.high


@dataclass(frozen=True, kw_only=True)
class Pairs:
    """One metric's values on the prompts of a cell, paired between the baseline and the current run."""

    examples: list[str]  # paired prompts with a value on both sides
    base: list[float]
    cur: list[float]
    both_undefined: int
    only_base: list[str]  # defined in the baseline only
    only_cur: list[str]  # defined in the current run only


def pair_values(metric: str, base: Mapping[str, Mapping[str, float]], cur: Mapping[str, Mapping[str, float]]) -> Pairs:
    examples: list[str] = []
    bv: list[float] = []
    cv: list[float] = []
    both = 0
    only_base: list[str] = []
    only_cur: list[str] = []
    for example, b_row in base.items():
        c_row = cur.get(example)
        if c_row is None:
            continue  # reported once per cell as missing prompts
        b, c = b_row.get(metric, math.nan), c_row.get(metric, math.nan)
        b_def, c_def = math.isfinite(b), math.isfinite(c)
        if b_def and c_def:
            examples.append(example)
            bv.append(b)
            cv.append(c)
        elif b_def:
            only_base.append(example)
        elif c_def:
            only_cur.append(example)
        else:
            both += 1
    return Pairs(examples=examples, base=bv, cur=cv, both_undefined=both, only_base=only_base, only_cur=only_cur)
