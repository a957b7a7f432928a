"""bootstrap_ci, t_interval and aggregate: degenerate inputs, NaN skipping, intervals only from 10
prompts on, and the t-interval's coverage by simulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics import AGGREGATE_SUFFIXES, MIN_INTERVAL_PROMPTS, aggregate, bootstrap_ci, t_interval




@pytest.mark.parametrize(
    "values, expected",
    [
        ([], (math.nan,) * 3),
        ([float("nan"), float("nan")], (math.nan,) * 3),
        ([0.7], (0.7, 0.7, 0.7)),
        ([0.7, float("nan")], (0.7, 0.7, 0.7)),
        ([0.3, 0.3, 0.3, 0.3], (0.3, 0.3, 0.3)),
    ],
)
def test_degenerate_inputs(values, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = bootstrap_ci(values)
    np.testing.assert_allclose(got, expected)


def test_interval_agrees_with_normal_approximation(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=0.6, scale=0.1, size=400)
    mean, low, high = bootstrap_ci(x, n_resamples=2000, seed=seed)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert mean == pytest.approx(x.mean())
    assert low == pytest.approx(mean - half, abs=0.25 * half)
    assert high == pytest.approx(mean + half, abs=0.25 * half)


def test_uses_scipy_percentile_bootstrap_of_the_mean():
    from scipy import stats

    x = np.array([0.1, 0.9, 0.85, 0.4, 0.95, 0.6, 0.3, 0.99, 0.7, 0.2])
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=500, confidence_level=0.9, method="percentile", rng=np.random.default_rng(5)
    ).confidence_interval
    _, low, high = bootstrap_ci(x, n_resamples=500, confidence=0.9, seed=5)
    assert (low, high) == pytest.approx((ref.low, ref.high))


def test_wider_confidence_gives_wider_interval_and_seed_is_respected():
    x = np.linspace(0, 1, 30) ** 2
    _, l90, h90 = bootstrap_ci(x, confidence=0.90)
    _, l99, h99 = bootstrap_ci(x, confidence=0.99)
    assert l99 < l90 and h99 > h90
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)


def test_nan_is_skipped_not_counted_as_zero():
    assert bootstrap_ci([1.0, float("nan"), 3.0]).mean == 2.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), max_size=25), st.integers(0, 1000))
def test_interval_bounds(values, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, low, high = bootstrap_ci(values, n_resamples=200, seed=seed)
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        assert math.isnan(mean) and math.isnan(low) and math.isnan(high)
        return
    tol = 1e-12
    assert min(finite) - tol <= low <= high <= max(finite) + tol
    assert mean == pytest.approx(float(np.mean(finite)))


def test_bootstrap_validation():
    with pytest.raises(ValueError, match="expected finite numbers or NaN, got inf"):
        bootstrap_ci([1.0, float("inf")])
    with pytest.raises(ValueError, match=r"confidence: expected a number in \(0, 1\), got 95"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="n_resamples: expected an integer >= 1"):
        bootstrap_ci([1.0, 2.0], n_resamples=0)


def test_aggregate_keys_counts_and_missing_values():
    rows = [
        {"att_auroc": 0.5, "seconds": 1.0},
        {"att_auroc": float("nan"), "seconds": 2.0},
        {"seconds": 3.0},
        {"att_auroc": 0.9, "seconds": 2.0},
    ]
    out = aggregate(rows)
    few = ("", "_min", "_max", "_n", "_n_nan")  # below 10 prompts: the range, no interval
    assert set(out) == {f"{m}{s}" for m in ("att_auroc", "seconds") for s in few}
    assert set(few) <= set(AGGREGATE_SUFFIXES)
    assert out["att_auroc"] == pytest.approx(0.7)
    assert (out["att_auroc_min"], out["att_auroc_max"]) == (0.5, 0.9)
    assert out["att_auroc_n"] == 2 and out["att_auroc_n_nan"] == 2
    assert out["seconds"] == pytest.approx(2.0) and out["seconds_n"] == 4 and out["seconds_n_nan"] == 0
    assert list(out)[:5] == [f"att_auroc{s}" for s in few]
    assert aggregate(rows) == aggregate(rows)


def test_from_ten_prompts_a_t_interval_below_ten_the_range():
    from scipy import stats

    rng = np.random.default_rng(3)
    values = rng.uniform(0.2, 0.8, size=MIN_INTERVAL_PROMPTS)
    below = aggregate([{"att_f1": v} for v in values[:-1]], confidence=0.9)
    assert "att_f1_ci_low" not in below and "att_f1_ci_high" not in below
    assert below["att_f1_min"] == values[:-1].min() and below["att_f1_max"] == values[:-1].max()
    assert below["att_f1_n"] == MIN_INTERVAL_PROMPTS - 1
    at = aggregate([{"att_f1": v} for v in values], confidence=0.9)
    assert "att_f1_min" not in at and "att_f1_max" not in at
    ref = stats.t.interval(0.9, df=len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (at["att_f1_ci_low"], at["att_f1_ci_high"]) == pytest.approx(ref)
    assert t_interval(values, confidence=0.9) == pytest.approx((values.mean(), *ref))
    # the level is the configured one: a wider level, a wider interval
    wide = aggregate([{"att_f1": v} for v in values], confidence=0.99)
    assert wide["att_f1_ci_low"] < at["att_f1_ci_low"] and wide["att_f1_ci_high"] > at["att_f1_ci_high"]


def test_interval_is_clipped_to_the_metric_range():
    values = [1.0] * 11 + [0.2]  # mean near 1, t-interval above 1 before clipping
    out = aggregate([{"att_auroc": v, "stability_jaccard_append": v} for v in values])
    assert out["att_auroc_ci_high"] == 1.0 and out["att_auroc_ci_low"] < out["att_auroc"]
    assert out["stability_jaccard_append_ci_high"] == 1.0  # the registered stem's range


@pytest.mark.parametrize("n, reps", [(10, 4000), (100, 2000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_interval_coverage_is_near_nominal_by_simulation(n, reps, confidence):
    # Per-prompt values from a skewed, bounded distribution (Beta(2, 5), like an AUPRC): the
    # share of intervals that contain the true mean 2/7 must be within a few points of nominal.
    rng = np.random.default_rng(20261202 + n)
    truth = 2 / 7
    samples = rng.beta(2.0, 5.0, size=(reps, n))
    hits = 0
    for x in samples:
        out = aggregate([{"att_auprc": v} for v in x], confidence=confidence)
        hits += out["att_auprc_ci_low"] <= truth <= out["att_auprc_ci_high"]
    coverage = hits / reps
    assert abs(coverage - confidence) <= 0.02, coverage


def test_t_interval_degenerate_inputs_and_validation():
    assert np.isnan(t_interval([]).mean)
    assert t_interval([0.4]) == (0.4, 0.4, 0.4)
    assert t_interval([0.4, 0.4, float("nan")]) == (0.4, 0.4, 0.4)
    with pytest.raises(ValueError, match=r"confidence: expected a number in \(0, 1\)"):
        t_interval([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="min_prompts: expected an integer >= 2"):
        aggregate([{"att_f1": 0.5}], min_prompts=1)


def test_aggregate_rejects_across_model_metrics_and_bad_values():
    with pytest.raises(ValueError, match="'faithfulness_pearson' has aggregation 'across_models'"):
        aggregate([{"faithfulness_pearson": 0.9}])
    with pytest.raises(ValueError, match=r"row 1, metric 'att_f1': expected a number, got 'x'"):
        aggregate([{"att_f1": 0.5}, {"att_f1": "x"}])


def test_aggregate_of_no_rows_is_empty():
    assert aggregate([]) == {}
