"""Fidelity statistics (eq. 16-22) against scikit-learn and hand-computed numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import r2_score

from xai_bench.metrics.fidelity import fidelity_stats, r2, weighted_r2


def _data(seed: int, n: int = 30):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    y_hat = y + 0.4 * rng.normal(size=n) + 0.1
    w = rng.uniform(0.0, 2.0, size=n)
    return y, y_hat, w


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_r2_matches_sklearn(seed):
    y, y_hat, w = _data(seed)
    assert r2(y, y_hat) == pytest.approx(r2_score(y, y_hat), rel=1e-12)
    assert weighted_r2(y, y_hat, w) == pytest.approx(r2_score(y, y_hat, sample_weight=w), rel=1e-12)
    assert weighted_r2(y, y_hat, None) == pytest.approx(r2_score(y, y_hat), rel=1e-12)
    # the weights matter
    assert abs(weighted_r2(y, y_hat, w) - r2(y, y_hat)) > 1e-4


def test_r2_can_be_negative():
    y = np.array([1.0, 2.0, 3.0])
    y_hat = np.array([3.0, 2.0, 1.0])
    assert r2(y, y_hat) == pytest.approx(r2_score(y, y_hat)) == pytest.approx(-3.0)


def test_constant_target_r2_is_undefined_not_perfect():
    # sklearn's default (force_finite) scores a constant target 1.0 / 0.0; without it the
    # ratio is 0/0 (NaN) or x/0 (-inf). A model whose output never moved explains nothing.
    y = np.full(5, 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(r2(y, y)) and np.isnan(r2_score(y, y, force_finite=False))
        assert np.isnan(r2(y, y + 0.1)) and not np.isfinite(r2_score(y, y + 0.1, force_finite=False))
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.5])
    assert np.isnan(weighted_r2(y, y, w))
    # constant where the weight is positive: still nothing to explain
    assert np.isnan(weighted_r2(np.array([1.0, 5.0, 1.0]), np.array([1.0, 5.0, 1.0]), np.array([1.0, 0.0, 1.0])))
    s = fidelity_stats(y, y, w, n_features=1)
    assert s["r2"] is None and s["r2w"] is None and s["r2w_adj"] is None
    assert s["wmse"] == 0.0 and s["l1"] == 0.0  # the error statistics stay defined
    held = fidelity_stats(y, y + 0.1, w, n_features=1, in_sample=False)
    assert held["r2"] is None and held["r2w"] is None


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(-100, 100), st.floats(-100, 100), st.floats(0.01, 10)), min_size=2, max_size=30
    )
)
def test_weighted_r2_property_matches_sklearn(data):
    y, y_hat, w = (np.array(v) for v in zip(*data))
    if np.ptp(y) < 1e-6:  # near-constant targets: both sides are ill-conditioned
        return
    assert weighted_r2(y, y_hat, w) == pytest.approx(r2_score(y, y_hat, sample_weight=w), rel=1e-7, abs=1e-7)
    assert weighted_r2(y, y_hat, w) <= 1.0


def test_fidelity_stats_hand_computed():
    y = np.array([1.0, 2.0, 4.0, 0.0])
    y_hat = np.array([1.5, 1.0, 4.0, -1.0])
    w = np.array([1.0, 2.0, 0.5, 0.5])
    err = np.array([-0.5, 1.0, 0.0, 1.0])
    s = fidelity_stats(y, y_hat, w, n_features=1)
    assert s["wmse"] == pytest.approx((0.25 + 2.0 + 0.0 + 0.5) / 4.0)
    assert s["wmae"] == pytest.approx((0.5 + 2.0 + 0.0 + 0.5) / 4.0)
    assert s["l1"] == pytest.approx(np.mean(np.abs(err)))
    assert s["l2"] == pytest.approx(np.mean(err**2))
    mean_w = (1 + 4 + 2 + 0) / 4.0
    ss_tot = 1 * (1 - mean_w) ** 2 + 2 * (2 - mean_w) ** 2 + 0.5 * (4 - mean_w) ** 2 + 0.5 * (0 - mean_w) ** 2
    r2w = 1 - 2.75 / ss_tot
    assert s["r2w"] == pytest.approx(r2w)
    assert s["r2"] == pytest.approx(1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2))
    # eq. 18 with N_p = 4, N_s = 1
    assert s["r2w_adj"] == pytest.approx(1 - (1 - r2w) * 3 / 2)


@pytest.mark.parametrize("seed", [0, 3])
def test_fidelity_stats_random_against_numpy(seed):
    y, y_hat, w = _data(seed, n=25)
    s = fidelity_stats(y, y_hat, w, n_features=4)
    err = y - y_hat
    assert s["wmse"] == pytest.approx(np.average(err**2, weights=w))
    assert s["wmae"] == pytest.approx(np.average(np.abs(err), weights=w))
    assert s["r2w"] == pytest.approx(r2_score(y, y_hat, sample_weight=w))
    assert s["r2w_adj"] == pytest.approx(1 - (1 - s["r2w"]) * (25 - 1) / (25 - 4 - 1))
    assert s["r2w_adj"] < s["r2w"]  # the penalty for features
    assert set(s) == {"r2", "r2w", "r2w_adj", "wmse", "wmae", "l1", "l2"}


@pytest.mark.parametrize("n,n_features", [(5, 4), (5, 5), (3, 10), (1, 0)])
def test_in_sample_r2_is_none_without_residual_degrees_of_freedom(n, n_features):
    y, y_hat, w = _data(9, n=n)
    s = fidelity_stats(y, y_hat, w, n_features=n_features)
    assert s["r2"] is None and s["r2w"] is None and s["r2w_adj"] is None
    assert s["wmse"] is not None


def test_held_out_statistics_have_no_adjusted_r2():
    y, y_hat, w = _data(2, n=25)
    held = fidelity_stats(y, y_hat, w, n_features=4, in_sample=False)
    assert held["r2w_adj"] is None
    assert held["r2w"] == pytest.approx(r2_score(y, y_hat, sample_weight=w))
    # out of sample, few points do not make R² undefined: the surrogate was not fitted on them
    few = fidelity_stats(y[:4], y_hat[:4], w[:4], n_features=6, in_sample=False)
    assert few["r2"] == pytest.approx(r2_score(y[:4], y_hat[:4]))


def test_adjusted_r2_defined_at_first_positive_dof():
    y, y_hat, w = _data(9, n=6)
    s = fidelity_stats(y, y_hat, w, n_features=4)  # dof = 1
    assert s["r2w_adj"] == pytest.approx(1 - (1 - s["r2w"]) * 5)


def test_zero_weights_fall_back_to_uniform():
    y, y_hat, _ = _data(4, n=10)
    s = fidelity_stats(y, y_hat, np.zeros(10), n_features=2)
    assert s["wmse"] == pytest.approx(np.mean((y - y_hat) ** 2))
    assert s["r2w"] == pytest.approx(r2_score(y, y_hat))


def test_invalid_inputs_raise():
    y = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected 3, got 2"):
        r2(y, y[:2])
    with pytest.raises(ValueError, match="weights must have the same length"):
        weighted_r2(y, y, np.ones(2))
    with pytest.raises(ValueError, match="finite and >= 0"):
        weighted_r2(y, y, np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="at least one sample"):
        fidelity_stats(np.array([]), np.array([]), None, n_features=0)
