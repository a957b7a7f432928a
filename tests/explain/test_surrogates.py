"""Kernels and weighted surrogates against known coefficients and an independent WLS solve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.explain.surrogates import SURROGATES, auto_sigma, fit_surrogate, gaussian_kernel, lime_kernel

THETA = np.array([2.0, -1.5, 0.0, 0.8, -0.3, 1.1])
B0 = 0.7


def _synthetic(seed: int, n: int = 200, noise: float = 0.01):
    rng = np.random.default_rng(seed)
    z = (rng.random((n, THETA.size)) < 0.5).astype(float)
    y = B0 + z @ THETA + noise * rng.normal(size=n)
    w = rng.uniform(0.05, 1.0, size=n)
    return z, y, w


def _wls(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Independent weighted least squares: lstsq on the sqrt(w)-scaled design with intercept."""
    x = np.column_stack([np.ones(len(y)), z])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
    return float(beta[0]), beta[1:]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wlr_recovers_known_coefficients(seed):
    z, y, w = _synthetic(seed)
    fit = fit_surrogate(z, y, w, kind="wlr")
    np.testing.assert_allclose(fit.coefficients, THETA, atol=0.01)
    assert fit.intercept == pytest.approx(B0, abs=0.01)
    assert fit.fit["r2w"] > 0.999


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wlr_equals_independent_weighted_least_squares(seed):
    z, y, w = _synthetic(seed, n=60, noise=0.5)  # noisy: weights now matter for the solution
    b0, theta = _wls(z, y, w)
    fit = fit_surrogate(z, y, w, kind="wlr")
    np.testing.assert_allclose(fit.coefficients, theta, rtol=1e-8, atol=1e-10)
    assert fit.intercept == pytest.approx(b0, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(fit.predictions, b0 + z @ theta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.predict(z), fit.predictions)
    # and the weights are really used: the unweighted solution differs
    _, theta_ols = _wls(z, y, np.ones_like(w))
    assert np.max(np.abs(theta_ols - fit.coefficients)) > 1e-3


@pytest.mark.parametrize("kind", ["ridge", "bayesian_ridge"])
def test_regularised_surrogates_keep_signs_and_order(kind):
    z, y, w = _synthetic(4, n=300)
    fit = fit_surrogate(z, y, w, kind=kind)
    big = np.abs(THETA) > 0.2
    assert np.all(np.sign(fit.coefficients[big]) == np.sign(THETA[big]))
    assert list(np.argsort(fit.coefficients)) == list(np.argsort(THETA))
    assert abs(fit.coefficients[2]) < 0.2  # the irrelevant word stays near 0


@pytest.mark.parametrize("kind", SURROGATES)
def test_constant_target_gives_zero_coefficients_and_undefined_r2(kind):
    z, _, w = _synthetic(5, n=40)
    y = np.full(40, 0.42)
    fit = fit_surrogate(z, y, w, kind=kind)
    np.testing.assert_array_equal(fit.coefficients, np.zeros(THETA.size))
    assert fit.intercept == pytest.approx(0.42)
    np.testing.assert_allclose(fit.predictions, 0.42)
    # the output never moved: no fidelity to speak of (not sklearn's force_finite 1.0)
    assert fit.fit["r2"] is None and fit.fit["r2w"] is None and fit.fit["r2w_adj"] is None
    for key in ("wmse", "wmae", "l1", "l2"):
        assert fit.fit[key] == 0.0, key


def test_zero_weights_fall_back_to_uniform():
    z, y, _ = _synthetic(6, n=50, noise=0.3)
    fit = fit_surrogate(z, y, np.zeros(50), kind="wlr")
    _, theta = _wls(z, y, np.ones(50))
    np.testing.assert_allclose(fit.coefficients, theta, rtol=1e-8, atol=1e-10)


def test_fit_surrogate_validates_inputs():
    z, y, w = _synthetic(7, n=10)
    with pytest.raises(ValueError, match="Unknown surrogate 'lasso'"):
        fit_surrogate(z, y, w, kind="lasso")
    with pytest.raises(ValueError, match="expected masks"):
        fit_surrogate(z[:5], y, w)
    with pytest.raises(ValueError, match="expected masks"):
        fit_surrogate(z, y, w[:5])
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fit_surrogate(z, bad, w)


# --- kernels ----------------------------------------------------------------------------


def test_gaussian_kernel_values():
    sigma = 0.8
    d = np.array([0.0, 0.4, 0.8, 1.6, 5.0])
    k = gaussian_kernel(d, sigma)
    np.testing.assert_allclose(k, np.exp(-((d / sigma) ** 2)))
    assert k[0] == 1.0
    assert k[2] == pytest.approx(math.exp(-1))
    assert k[3] == pytest.approx(math.exp(-4))
    assert np.all(np.diff(k) < 0)


@settings(max_examples=150, deadline=None)
@given(
    d=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=30),
    sigma=st.floats(min_value=0.5, max_value=20),
)
def test_gaussian_kernel_range_and_monotone(d, sigma):
    d = np.sort(np.array(d))
    k = gaussian_kernel(d, sigma)
    # values in (0, 1]; d / sigma <= 20 keeps exp(-(d/sigma)^2) above float underflow
    assert np.all(k > 0) and np.all(k <= 1)
    assert np.all(np.diff(k) <= 0)  # non-increasing in d


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_invalid_sigma_raises(sigma):
    with pytest.raises(ValueError, match=r"'sigma' parameter must be a float in the range \(0, inf\)"):
        gaussian_kernel(np.array([0.1]), sigma)


@pytest.mark.parametrize("width", [0.0, -0.25])
def test_invalid_lime_width_raises(width):
    with pytest.raises(ValueError, match="'width' parameter"):
        lime_kernel(np.array([0.1]), width)


def test_lime_kernel_values():
    d = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(lime_kernel(d), [1.0, math.exp(-0.5), math.exp(-2.0), math.exp(-8.0)])
    np.testing.assert_allclose(lime_kernel(np.array([1.0]), width=2.0), [math.exp(-1 / 8)])


def test_auto_sigma_is_the_median_of_non_zero_distances():
    assert auto_sigma(np.array([0.0, 0.0, 1.0, 3.0, 2.0])) == 2.0
    assert auto_sigma(np.array([0.0, 4.0, 1.0, 3.0, 2.0])) == 2.5  # even count: mean of the middle two
    assert auto_sigma(np.array([0.0, 0.0, 0.0])) == 1.0
    assert auto_sigma(np.array([])) == 1.0


@settings(max_examples=200, deadline=None)
@given(
    nonzero=st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=0, max_size=40),
    zeros=st.integers(0, 10),
)
def test_auto_sigma_weights_do_not_collapse(nonzero, zeros):
    d = np.array(nonzero + [0.0] * zeros)
    if d.size == 0:
        return
    sigma = auto_sigma(d)
    w = gaussian_kernel(d, sigma)
    assert np.mean(w >= math.exp(-1) * (1 - 1e-12)) >= 0.5
    if nonzero:
        assert sigma == pytest.approx(float(np.median(nonzero)))


@pytest.mark.parametrize("n", [3, 6, 7])  # d = 6 words: 7 parameters; n <= 7 leaves no residual degree of freedom
@pytest.mark.parametrize("kind", SURROGATES)
def test_underdetermined_fit_falls_back_to_ridge_and_says_so(kind, n):
    from sklearn.linear_model import Ridge

    z, y, w = _synthetic(8, n=n, noise=0.3)
    fit = fit_surrogate(z, y, w, kind=kind)
    d = z.shape[1]
    assert fit.fit["r2"] is None and fit.fit["r2w"] is None and fit.fit["r2w_adj"] is None
    assert fit.warning is not None and "underdetermined" in fit.warning
    assert f"{n} perturbation(s) were fitted for {d + 1} parameters" in fit.warning
    assert f"At least {d + 2} successful perturbations" in fit.warning
    assert fit.kind == ("ridge" if kind == "wlr" else kind)
    if kind == "wlr":  # the fallback is exactly LIME's ridge, not the interpolating least-squares solution
        ref = Ridge(alpha=1.0).fit(z, y, sample_weight=w)
        np.testing.assert_allclose(fit.coefficients, ref.coef_, rtol=1e-8, atol=1e-10)
        assert np.max(np.abs(fit.predictions - y)) > 1e-3  # no longer an exact interpolation


@pytest.mark.parametrize("kind", SURROGATES)
def test_first_determined_fit_has_no_warning(kind):
    z, y, w = _synthetic(8, n=THETA.size + 2, noise=0.3)  # d + 2 samples: one residual degree of freedom
    fit = fit_surrogate(z, y, w, kind=kind)
    assert fit.warning is None and fit.kind == kind
    assert fit.fit["r2w"] is not None and fit.fit["r2w_adj"] is not None
