"""Aggregating per-prompt metric values: the mean, and an interval only where one means something.

NaN marks a value that is undefined for a prompt (e.g. att_auroc when the rationale
mask has one class only). Aggregation skips NaN and says how many values it used and
how many it skipped, never averaging a NaN into 0.

Intervals (``aggregate``). With n >= ``MIN_INTERVAL_PROMPTS`` (10) prompts, the mean gets a
two-sided Student-t confidence interval, mean ± t_{(1+c)/2, n-1} · s / sqrt(n)
(``t_interval``, ``scipy.stats.t``), at the configured level c, clipped to the metric's
declared range. Below 10 prompts no interval is reported, only the range (min, max) of the
per-prompt values and n: a percentile bootstrap of 2 to 9 values can only return sample
quantiles of a handful of resampled means, it covers the true mean far less often than its
label says (and equals the mean at n = 1), and a t-interval on so few values is dominated
by the unknown shape of the metric's distribution. The t-interval's coverage is checked by
simulation in ``tests/metrics/test_aggregate.py`` (n = 10 and n = 100).

``bootstrap_ci`` (percentile bootstrap) stays available as a library function; the
benchmark no longer uses it.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from .registry import find_metric, get_metric

__all__ = ["ConfidenceInterval", "bootstrap_ci", "t_interval", "aggregate", "AGGREGATE_SUFFIXES",
           "MIN_INTERVAL_PROMPTS", "INTERVAL_METHOD"]

# every key aggregate() may write per metric; "_ci_*" only with >= MIN_INTERVAL_PROMPTS values,
# "_min"/"_max" only with fewer (never both)
AGGREGATE_SUFFIXES: tuple[str, ...] = ("", "_ci_low", "_ci_high", "_min", "_max", "_n", "_n_nan")
MIN_INTERVAL_PROMPTS = 10
INTERVAL_METHOD = "student_t"


class ConfidenceInterval(NamedTuple):
    """Mean of the non-NaN values and the (low, high) bounds of its confidence interval."""

    mean: float
    low: float
    high: float


def _finite_values(values: Sequence[float] | np.ndarray, name: str = "values") -> tuple[np.ndarray, int]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got an array of shape {arr.shape}")
    nan = np.isnan(arr)
    if np.any(np.isinf(arr)):
        bad = int(np.flatnonzero(np.isinf(arr))[0])
        raise ValueError(f"{name}: expected finite numbers or NaN, got {arr[bad].item()!r} at position {bad}")
    return arr[~nan], int(nan.sum())


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Mean of ``values`` with a percentile-bootstrap confidence interval.

    NaN values are skipped (count them with ``np.isnan``; ``aggregate`` reports the
    count). The interval comes from ``scipy.stats.bootstrap`` with the percentile
    method, ``n_resamples`` resamples of the mean, and a generator seeded with ``seed``
    (same input and seed, same interval).

    Degenerate inputs never warn: no non-NaN value gives (NaN, NaN, NaN); one value or
    constant values give (mean, mean, mean), since resampling cannot vary.

    Raises ValueError for a non-1-D input, an infinite value, n_resamples < 1, or a
    confidence outside (0, 1).
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples: expected an integer >= 1, got {n_resamples!r}")
    x, trivial = _spread_or_trivial(values, confidence)
    if trivial is not None:
        return trivial
    mean = float(np.mean(x))
    from scipy import stats  # imported here so that importing the registry stays cheap

    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=int(n_resamples),
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return ConfidenceInterval(mean, float(res.confidence_interval.low), float(res.confidence_interval.high))


def t_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> ConfidenceInterval:
    """Mean of ``values`` with its two-sided Student-t confidence interval at level ``confidence``.

    mean ± t_{(1+c)/2, n-1} · s / sqrt(n), s the sample standard deviation (ddof = 1), from
    ``scipy.stats.t.interval``. NaN values are skipped. No value gives (NaN, NaN, NaN); one
    value or constant values give (mean, mean, mean): there is no spread to estimate.

    Raises ValueError for a non-1-D input, an infinite value, or a confidence outside (0, 1).
    """
    x, trivial = _spread_or_trivial(values, confidence)
    if trivial is not None:
        return trivial
    mean = float(np.mean(x))
    from scipy import stats  # imported here so that importing the registry stays cheap

    low, high = stats.t.interval(confidence, df=x.size - 1, loc=mean, scale=float(stats.sem(x)))
    return ConfidenceInterval(mean, float(low), float(high))


def _spread_or_trivial(values: Sequence[float] | np.ndarray, confidence: float
                       ) -> tuple[np.ndarray, ConfidenceInterval | None]:
    """The finite values, and the interval when there is nothing to estimate: no value gives
    (NaN, NaN, NaN), one value or constant values (mean, mean, mean). Checks ``confidence``."""
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    x, _ = _finite_values(values)
    if x.size == 0:
        return x, ConfidenceInterval(math.nan, math.nan, math.nan)
    if x.size < 2 or np.ptp(x) == 0:
        mean = float(np.mean(x))
        return x, ConfidenceInterval(mean, mean, mean)
    return x, None


def _declared_range(name: str) -> tuple[float, float]:
    """The registry's range of ``name`` or of its registered stem (stability_jaccard_append); else unbounded."""
    info = find_metric(name)
    return (-math.inf, math.inf) if info is None else info.range


def aggregate(
    rows: Sequence[Mapping[str, float]],
    *,
    confidence: float = 0.95,
    min_prompts: int = MIN_INTERVAL_PROMPTS,
) -> dict[str, float]:
    """Aggregate per-prompt metric rows into report values (intervals: see the module docstring).

    ``rows`` holds one dict per prompt, metric name -> value (NaN = undefined for that
    prompt; a metric missing from a row counts as NaN). For each metric m, in order of
    first appearance, the result has:

        m            mean over prompts of the non-NaN values
        m_ci_low     with n >= ``min_prompts``: lower bound of the Student-t interval of the
                     mean at level ``confidence`` (``t_interval``), clipped to m's declared range
        m_ci_high    upper bound (same condition)
        m_min        with 1 <= n < ``min_prompts`` instead: the smallest per-prompt value
        m_max        the largest (same condition); not an interval of the mean
        m_n          number of prompts that contributed (non-NaN)
        m_n_nan      number of prompts skipped because the value was NaN or missing

    Values under names that are not registered metrics (e.g. "seconds") are aggregated
    the same way. Registered metrics whose aggregation is not "mean"
    (faithfulness_pearson) are rejected: they are computed across models, not prompts.

    Raises ValueError for a non-numeric or infinite value (naming row and metric).
    """
    if isinstance(min_prompts, bool) or not isinstance(min_prompts, (int, np.integer)) or min_prompts < 2:
        raise ValueError(f"min_prompts: expected an integer >= 2, got {min_prompts!r}")
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    names: list[str] = []
    for row in rows:
        for name in row:
            if name not in names:
                names.append(name)
    for name in names:
        try:
            info = get_metric(name)
        except KeyError:
            continue
        if info.aggregation != "mean":
            raise ValueError(
                f"metric {name!r} has aggregation {info.aggregation!r}: expected per-prompt metrics "
                f"(aggregation 'mean') only. Compute it from the aggregated values instead."
            )
    out: dict[str, float] = {}
    for name in names:
        column: list[float] = []
        for i, row in enumerate(rows):
            v = row.get(name, math.nan)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"row {i}, metric {name!r}: expected a number, got {v!r}")
            column.append(float(v))
        x, n_nan = _finite_values(column, f"metric {name!r}")
        ci = t_interval(x, confidence=confidence)
        out[name] = ci.mean
        if x.size >= min_prompts:
            lo, hi = _declared_range(name)
            out[f"{name}_ci_low"] = min(max(ci.low, lo), ci.mean)
            out[f"{name}_ci_high"] = max(min(ci.high, hi), ci.mean)
        elif x.size:
            out[f"{name}_min"] = float(np.min(x))
            out[f"{name}_max"] = float(np.max(x))
        out[f"{name}_n"] = int(x.size)
        out[f"{name}_n_nan"] = n_nan
    return out
