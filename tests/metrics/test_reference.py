"""reference_spearman: rank agreement with the white-box reference row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics import get_metric
from xai_bench.metrics.reference import reference_spearman


def test_same_order_is_one_reversed_is_minus_one():
    ref = [0.1, 2.0, -1.0, 0.5]
    assert reference_spearman([1, 4, 0, 3], ref) == pytest.approx(1.0)
    assert reference_spearman([-1, -4, 0, -3], ref) == pytest.approx(-1.0)


@pytest.mark.parametrize("a, r", [([1, 1, 1], [1, 2, 3]), ([1, 2, 3], [0, 0, 0]), ([1, 2], [2, 1]),
                                  ([1, np.nan, 3], [1, 2, 3])])
def test_undefined_cases_are_nan(a, r):
    assert math.isnan(reference_spearman(a, r))


def test_shape_mismatch_is_an_error_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        reference_spearman([1, 2, 3], [1, 2, 3, 4])


def test_registered_with_direction_and_range():
    info = get_metric("whitebox_spearman")
    assert info.higher_is_better and info.range == (-1.0, 1.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=20).filter(lambda x: np.ptp(x) > 0))
def test_invariant_under_monotone_transform_and_bounded(ref):
    ref = np.asarray(ref)
    rng = np.random.default_rng(len(ref))
    a = ref + rng.normal(0, 1, len(ref))
    if np.ptp(a) == 0:
        return
    rho = reference_spearman(a, ref)
    assert -1.0 <= rho <= 1.0
    assert reference_spearman(np.exp(a / 50), ref) == pytest.approx(rho)  # ranks only
    assert reference_spearman(ref, ref) == pytest.approx(1.0)
