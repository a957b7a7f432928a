"""Distances against independent computations (assignment, transport LP, 1-D closed form)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from xai_bench.explain.distances import cosine_distance, cost_matrix, mask_cosine_distance, wasserstein, wmd


def _lp_transport_cost(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> float:
    """min <T, cost> s.t. T 1 = 1/n, T^T 1 = 1/m, T >= 0, solved as an LP with HiGHS."""
    n, m = cost.shape
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m : (i + 1) * m] = 1.0  # row sums
    for j in range(m):
        a_eq[n + j, j::m] = 1.0  # column sums
    b_eq = np.concatenate([np.full(n, 1.0 / n), np.full(m, 1.0 / m)])
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def _euclid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


@pytest.mark.parametrize("n,dim,seed", [(1, 3, 0), (5, 2, 1), (12, 16, 2), (30, 50, 3)])
def test_equal_sizes_match_min_cost_assignment(n, dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) + 0.5
    c = cdist(a, b)
    rows, cols = linear_sum_assignment(c)
    expected = c[rows, cols].sum() / n  # uniform weights: an optimal plan is a permutation (Birkhoff)
    assert wasserstein(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert wmd(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n,m,dim,seed", [(3, 5, 2, 0), (7, 4, 8, 1), (1, 6, 3, 2), (10, 13, 32, 3)])
def test_unequal_sizes_match_transport_lp(n, m, dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, dim)), rng.normal(size=(m, dim)) * 2.0
    expected = _lp_transport_cost(a, b, _euclid(a, b))
    assert wasserstein(a, b, p=1) == pytest.approx(expected, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("n,m,dim,seed", [(4, 4, 3, 0), (6, 9, 5, 1), (11, 7, 20, 2)])
def test_p2_matches_lp_with_squared_costs(n, m, dim, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, dim)), rng.normal(size=(m, dim)) + 1.0
    expected = np.sqrt(_lp_transport_cost(a, b, _euclid(a, b) ** 2))
    assert wasserstein(a, b, p=2) == pytest.approx(expected, rel=1e-7)
    # p = 2 is a different number from p = 1 here (so the exponent is really used)
    assert abs(wasserstein(a, b, p=2) - wasserstein(a, b, p=1)) > 1e-3


def test_one_dimensional_case_matches_scipy():
    rng = np.random.default_rng(7)
    u, v = rng.normal(size=9), rng.exponential(size=14) + 0.3
    expected = wasserstein_distance(u, v)
    assert wasserstein(u[:, None], v[:, None]) == pytest.approx(expected, rel=1e-9)


def test_hand_computed_values():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 3.0], [1.0, 3.0]])
    assert wasserstein(a, b) == pytest.approx(3.0)
    # one point against two: the point travels half way to each
    assert wasserstein(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 1.0]])) == pytest.approx(3.0)
    # p = 2: sqrt(mean of squared distances) for a single source point
    assert wasserstein(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 1.0]]), p=2) == pytest.approx(
        np.sqrt((25 + 1) / 2)
    )


def test_cost_matrix_is_euclidean_and_powered():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(cost_matrix(a, b), _euclid(a, b), rtol=1e-10)
    np.testing.assert_allclose(cost_matrix(a, b, p=2), _euclid(a, b) ** 2, rtol=1e-10)


def test_identical_but_distinct_arrays_give_exactly_zero():
    # large-norm embeddings: the |a|^2 + |b|^2 - 2ab expansion loses all precision here
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 384)) * 100.0
    assert wasserstein(a, a.copy()) == 0.0
    assert wasserstein(a, a[::-1].copy()) == 0.0
    assert np.all(np.diag(cost_matrix(a, a.copy())) == 0.0)


# --- properties -------------------------------------------------------------------------

FLOATS = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


def clouds(dim: int):
    return st.integers(1, 8).flatmap(lambda n: arrays(np.float64, (n, dim), elements=FLOATS))


PROPS = settings(max_examples=100, deadline=None)


@PROPS
@given(dim=st.integers(1, 5), data=st.data())
def test_nonnegative_symmetric_zero_on_identical(dim, data):
    a = data.draw(clouds(dim))
    b = data.draw(clouds(dim))
    p = data.draw(st.sampled_from([1.0, 2.0]))
    d_ab = wasserstein(a, b, p)
    assert d_ab >= 0.0
    assert d_ab == pytest.approx(wasserstein(b, a, p), rel=1e-9, abs=1e-9)
    assert wasserstein(a, a.copy(), p) == pytest.approx(0.0, abs=1e-9)
    # the order of the points does not matter (bags of vectors)
    assert wasserstein(a[::-1], b, p) == pytest.approx(d_ab, rel=1e-9, abs=1e-9)


@PROPS
@given(dim=st.integers(1, 4), data=st.data())
def test_triangle_inequality(dim, data):
    a, b, c = (data.draw(clouds(dim)) for _ in range(3))
    assert wasserstein(a, c) <= wasserstein(a, b) + wasserstein(b, c) + 1e-9


@PROPS
@given(dim=st.integers(1, 4), data=st.data())
def test_zero_only_when_the_bags_coincide(dim, data):
    a = data.draw(clouds(dim))
    shift = data.draw(st.floats(min_value=0.1, max_value=5))
    b = a.copy()
    b[:, 0] += shift
    # translating every point by t costs exactly |t| under W_p
    assert wasserstein(a, b) == pytest.approx(shift, rel=1e-9)
    assert wasserstein(a, b, p=2) == pytest.approx(shift, rel=1e-9)


# --- cosine -----------------------------------------------------------------------------


def test_cosine_distance_hand_computed():
    assert cosine_distance([1, 0], [1, 0]) == pytest.approx(0.0)
    assert cosine_distance([1, 0], [0, 5]) == pytest.approx(1.0)
    assert cosine_distance([1, 0], [-2, 0]) == pytest.approx(2.0)
    assert cosine_distance([1, 1], [1, 0]) == pytest.approx(1 - 1 / np.sqrt(2))
    assert cosine_distance([3, 4], [4, 3]) == pytest.approx(1 - 24 / 25)
    assert cosine_distance([0, 0], [0, 0]) == 0.0
    assert cosine_distance([0, 0], [1, 2]) == 1.0


def test_mask_cosine_distance_hand_computed():
    masks = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0]])
    expected = [0.0, 1 - np.sqrt(1 / 4), 1 - np.sqrt(2 / 4), 1 - np.sqrt(3 / 4)]
    np.testing.assert_allclose(mask_cosine_distance(masks), expected, atol=1e-12)
    # same as the generic cosine distance to the all-ones vector
    for m, e in zip(masks, mask_cosine_distance(masks)):
        assert cosine_distance(m, np.ones(4)) == pytest.approx(e)


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a,b",
    [
        (np.zeros(3), np.zeros((2, 3))),  # 1-D
        (np.zeros((2, 3)), np.zeros((2, 4))),  # column mismatch
        (np.zeros((2, 3, 1)), np.zeros((2, 3))),  # 3-D
    ],
)
def test_bad_shapes_raise(a, b):
    with pytest.raises(ValueError, match="2-D arrays with the same number of columns"):
        wasserstein(a, b)


def test_empty_set_raises():
    with pytest.raises(ValueError, match="empty set"):
        wasserstein(np.zeros((0, 3)), np.zeros((2, 3)))
