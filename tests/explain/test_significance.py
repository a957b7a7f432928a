"""Permutation p-values: power, null calibration, fast path == exact loop, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest

from xai_bench.explain.distances import wasserstein
from xai_bench.explain.significance import PermutationResult, permutation_pvalue, permutation_pvalues


def _cloud(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0) -> np.ndarray:
    mean = np.zeros(dim)
    mean[0] = shift
    x = rng.normal(size=(n, dim)) + mean
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n,m,dim", [(20, 20, 16), (25, 40, 64), (30, 22, 384)])
def test_clearly_different_sets_are_significant(n, m, dim):
    rng = np.random.default_rng(dim)
    x, y = _cloud(rng, n, dim), _cloud(rng, m, dim, shift=4.0)
    r = permutation_pvalue(x, y, n_permutations=500, seed=1)
    assert r.p_value < 0.01
    assert r.statistic == pytest.approx(wasserstein(x, y))
    # the exact loop agrees that it is significant
    exact = permutation_pvalue(x, y, n_permutations=500, seed=1, use_bounds=False, stop_after=None,
                               exact_budget=None)
    assert exact.p_value == pytest.approx(1 / 501)


def test_pvalues_are_roughly_uniform_under_the_null():
    rng = np.random.default_rng(2024)
    exact, fast = [], []
    for k in range(60):
        x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16)
        exact.append(permutation_pvalue(x, y, n_permutations=200, seed=k, stop_after=None,
                                        exact_budget=None).p_value)
        fast.append(permutation_pvalue(x, y, n_permutations=200, seed=k).p_value)  # defaults
    for p in (np.array(exact), np.array(fast)):
        assert kstest(p, "uniform").pvalue > 0.01
        assert np.mean(p < 0.05) <= 0.15
        assert np.all((p > 0) & (p <= 1))


@pytest.mark.parametrize("p_exp", [1.0, 2.0])
@pytest.mark.parametrize("shift", [0.0, 0.35, 0.7, 3.0])
def test_bounds_do_not_change_any_count(p_exp, shift):
    rng = np.random.default_rng(int(shift * 100) + int(p_exp))
    x, y = _cloud(rng, 18, 24), _cloud(rng, 23, 24, shift=shift)
    kw = dict(p=p_exp, n_permutations=300, seed=5, stop_after=None, exact_budget=None)
    fast = permutation_pvalue(x, y, use_bounds=True, **kw)
    plain = permutation_pvalue(x, y, use_bounds=False, **kw)
    assert fast.p_value == plain.p_value
    assert fast.statistic == plain.statistic
    assert fast.n_permutations == plain.n_permutations == 300
    assert plain.n_exact == 300
    assert fast.n_exact <= plain.n_exact
    assert not fast.stopped_early and not fast.tail_approximation


def test_bounds_actually_skip_exact_solves():
    # otherwise the previous test would pass trivially with a fast path that always solves exactly
    rng = np.random.default_rng(3)
    x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16, shift=3.0)
    r = permutation_pvalue(x, y, n_permutations=400, seed=0, stop_after=None, exact_budget=None)
    assert r.n_exact < 400


def _independent_pvalue(x, y, n_perm, seed):
    """Plain loop with the module's own permutation stream: (1 + #{W_perm >= W}) / (1 + N)."""
    pool = np.vstack([x, y])
    obs = wasserstein(x, y)
    rng = np.random.default_rng(seed)
    count, done, chunk = 0, 0, 64
    while done < n_perm:
        size = min(chunk, n_perm - done)
        perms = rng.permuted(np.tile(np.arange(len(pool)), (size, 1)), axis=1)
        for perm in perms:
            count += wasserstein(pool[perm[: len(x)]], pool[perm[len(x) :]]) >= obs * (1 - 1e-9)
        done += size
        chunk = min(chunk * 2, 4096)
    return (1 + count) / (1 + n_perm)


def test_plain_loop_matches_an_independent_count():
    rng = np.random.default_rng(8)
    x, y = _cloud(rng, 12, 8), _cloud(rng, 15, 8, shift=0.4)
    plain = permutation_pvalue(x, y, n_permutations=150, seed=4, use_bounds=False, stop_after=None,
                               exact_budget=None)
    assert plain.p_value == pytest.approx(_independent_pvalue(x, y, 150, 4))
    assert 0.01 < plain.p_value < 1  # a case with a non-trivial count


def test_pvalue_never_zero_and_at_most_one():
    rng = np.random.default_rng(9)
    for shift in (0.0, 1.0, 10.0):
        x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16, shift=shift)
        for kw in ({}, {"stop_after": None, "exact_budget": None}, {"exact_budget": 50}):
            r = permutation_pvalue(x, y, n_permutations=200, seed=0, **kw)
            assert 0 < r.p_value <= 1
            assert r.p_value >= 1 / 201 - 1e-15


def test_sequential_stopping_gives_besag_clifford_estimate():
    rng = np.random.default_rng(10)
    x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16)
    r = permutation_pvalue(x, y, n_permutations=1000, seed=0, stop_after=10, exact_budget=None)
    assert r.stopped_early and not r.tail_approximation
    assert r.n_permutations < 1000
    assert r.p_value == pytest.approx(10 / r.n_permutations)


def test_tail_approximation_only_without_exceedances():
    rng = np.random.default_rng(11)
    x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16, shift=5.0)
    r = permutation_pvalue(x, y, n_permutations=10_000, seed=0, exact_budget=100)
    assert r.tail_approximation and r.stopped_early
    assert r.n_permutations == 100
    assert 1 / 101 <= r.p_value < 0.01


@pytest.mark.parametrize("budget", [20, 100, 300])
def test_tail_p_value_is_never_below_what_the_drawn_permutations_support(budget):
    # B permutations without an exceedance support p >= 1/(B + 1), however many were requested
    # and however far out the normal tail puts the statistic.
    rng = np.random.default_rng(budget)
    x, y = _cloud(rng, 20, 16), _cloud(rng, 20, 16, shift=8.0)
    r = permutation_pvalue(x, y, n_permutations=100_000, seed=3, exact_budget=budget)
    assert r.tail_approximation and r.n_permutations == budget
    assert r.p_value >= 1 / (budget + 1)
    # the statistic is far in the tail: the bound, not the extrapolated normal tail, is what is reported
    assert r.p_value == pytest.approx(1 / (budget + 1))
    exact = permutation_pvalue(x, y, n_permutations=budget, seed=3, exact_budget=None, stop_after=None)
    assert exact.p_value == pytest.approx(r.p_value)  # the same as drawing the B permutations exactly


def test_seeded_results_are_reproducible():
    rng = np.random.default_rng(12)
    x, y = _cloud(rng, 20, 16), _cloud(rng, 24, 16, shift=0.3)
    a = permutation_pvalue(x, y, n_permutations=300, seed=42, stop_after=None, exact_budget=None)
    b = permutation_pvalue(x, y, n_permutations=300, seed=42, stop_after=None, exact_budget=None)
    assert a == b
    others = {permutation_pvalue(x, y, n_permutations=300, seed=s, stop_after=None, exact_budget=None).p_value
              for s in range(5)}
    assert len(others) > 1  # the seed is really used


def test_identical_sets_give_p_one_and_zero_statistic():
    rng = np.random.default_rng(13)
    x = _cloud(rng, 25, 384) * 50.0  # large norms: no round-off may make W > 0
    for y in (x.copy(), x[::-1].copy()):
        r = permutation_pvalue(x, y, n_permutations=200, seed=0)
        assert r.statistic == 0.0
        assert r.p_value == 1.0


def test_no_permutations_gives_nan():
    rng = np.random.default_rng(14)
    x, y = _cloud(rng, 5, 4), _cloud(rng, 5, 4, shift=1)
    r = permutation_pvalue(x, y, n_permutations=0)
    assert np.isnan(r.p_value) and r.n_permutations == 0


def test_permutation_pvalues_shares_equal_keys():
    rng = np.random.default_rng(15)
    orig = _cloud(rng, 15, 8)
    ya, yb = _cloud(rng, 15, 8, shift=2.0), _cloud(rng, 12, 8, shift=0.2)
    res = permutation_pvalues(orig, [ya, yb, ya, yb, ya], keys=["A", "B", "A", "B", "A"], n_permutations=200,
                              seed=3)
    assert len(res) == 5 and all(isinstance(r, PermutationResult) for r in res)
    assert res[0] is res[2] is res[4]
    assert res[1] is res[3]
    assert res[0] is not res[1]
    assert res[0].statistic == pytest.approx(wasserstein(orig, ya))
    assert res[1].statistic == pytest.approx(wasserstein(orig, yb))
    # without keys every perturbation gets its own computation
    res2 = permutation_pvalues(orig, [ya, ya], n_permutations=200, seed=3)
    assert res2[0] is not res2[1]
    # seeded: the same call gives the same answers
    again = permutation_pvalues(orig, [ya, yb, ya, yb, ya], keys=["A", "B", "A", "B", "A"], n_permutations=200,
                                seed=3)
    assert [r.p_value for r in again] == [r.p_value for r in res]
