"""consistency against numpy and a hand fixture."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xai_bench.metrics import consistency, get_metric, per_token_consistency


def test_hand_fixture():
    runs = [[1.0, 2.0], [3.0, 2.0]]
    # word 0: mean 2, squared deviations 1 + 1 -> var 2/(R-1) = 2; word 1: var 0
    out = consistency(runs)
    assert out["consistency_var"] == pytest.approx(1.0)
    assert out["consistency_std"] == pytest.approx(math.sqrt(2) / 2)
    out0 = consistency(runs, ddof=0)
    assert out0["consistency_var"] == pytest.approx(0.5)
    assert out0["consistency_std"] == pytest.approx(0.5)


def test_identical_runs_are_perfectly_consistent():
    runs = np.tile([0.3, -0.1, 0.8], (10, 1))
    out = consistency(runs)
    assert out["consistency_std"] == pytest.approx(0.0, abs=1e-12)
    assert out["consistency_var"] == pytest.approx(0.0, abs=1e-12)


def test_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    runs = rng.normal(size=(10, 7)) * rng.uniform(0.01, 1, size=7)
    var, std = per_token_consistency(runs)
    np.testing.assert_allclose(var, np.var(runs, axis=0, ddof=1))
    np.testing.assert_allclose(std, np.std(runs, axis=0, ddof=1))
    out = consistency(runs, ddof=0)
    assert out["consistency_var"] == pytest.approx(np.var(runs, axis=0).mean())
    assert out["consistency_std"] == pytest.approx(np.std(runs, axis=0).mean())


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 10)), elements=st.floats(-1e3, 1e3)))
def test_in_declared_range(runs):
    out = consistency(runs)
    for key in ("consistency_std", "consistency_var"):
        assert get_metric(key).in_range(out[key])
    assert out["consistency_std"] <= math.sqrt(out["consistency_var"]) + 1e-9  # Jensen


@pytest.mark.parametrize(
    "runs, kwargs, pattern",
    [
        ([0.1, 0.2], {}, r"expected a 2-D array \(R runs, d words\), got an array of shape \(2,\)"),
        ([[0.1, 0.2]], {}, r"expected more than ddof=1 runs \(R > ddof\), got R = 1"),
        ([[0.1, np.nan], [0.1, 0.2]], {}, "expected finite numbers, got nan at run 0, word 1"),
        ([[0.1], [0.2]], {"ddof": -1}, "ddof: expected an integer >= 0"),
    ],
)
def test_validation(runs, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        consistency(runs, **kwargs)
