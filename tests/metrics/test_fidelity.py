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


def test_constant_target_follows_sklearn_force_finite():
    y = np.full(5, 2.0)
    assert r2(y, y) == 1.0 == r2_score(y, y)
    assert r2(y, y + 0.1) == 0.0 == r2_score(y, y + 0.1)


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
def test_adjusted_r2_is_none_when_undefined(n, n_features):
    y, y_hat, w = _data(9, n=n)
    assert fidelity_stats(y, y_hat, w, n_features=n_features)["r2w_adj"] is None


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
