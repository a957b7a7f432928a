"""ERASER erasure masks and AOPC: rounding fixtures, mask invariants, a control model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics import ERASER_BINS, aopc, erasure_k, erasure_masks, get_metric


@pytest.mark.parametrize(
    "d, expected",
    [
        (2, [1, 1, 1, 1, 1]),
        (3, [1, 1, 1, 1, 2]),  # ceil(1.5) = 2
        (10, [1, 1, 1, 2, 5]),
        (30, [1, 2, 3, 6, 15]),
        (100, [1, 5, 10, 20, 50]),
        (101, [2, 6, 11, 21, 51]),
    ],
)
def test_k_per_bin(d, expected):
    assert [erasure_k(b, d) for b in ERASER_BINS] == expected


def test_k_rounding_absorbs_floating_point_error():
    assert 0.07 * 100 > 7  # 7.000000000000001 in floating point
    assert erasure_k(0.07, 100) == 7
    assert erasure_k(0.071, 100) == 8


def test_k_capped_below_d_and_d_of_one_rejected():
    assert erasure_k(1.0, 4) == 3
    with pytest.raises(ValueError, match="expected d >= 2, got 1"):
        erasure_k(0.5, 1)
    with pytest.raises(ValueError, match=r"expected a fraction in \(0, 1\]"):
        erasure_k(0.0, 5)


def test_masks_hand_fixture():
    masks = erasure_masks([0.1, 0.9, 0.5, 0.0, 0.5], bins=(0.2, 0.5))
    assert [m.k for m in masks] == [1, 3]
    assert masks[0].keep_topk.tolist() == [0, 1, 0, 0, 0]
    assert masks[0].remove_topk.tolist() == [1, 0, 1, 1, 1]
    assert masks[1].keep_topk.tolist() == [0, 1, 1, 0, 1]
    # k = 2: the tie between positions 2 and 4 is broken by the seeded random order
    picks = {tuple(erasure_masks([0.1, 0.9, 0.5, 0.0, 0.5], bins=(0.4,), tie_seed=s)[0].keep_topk.tolist())
             for s in range(20)}
    assert picks == {(0, 1, 1, 0, 0), (0, 1, 0, 0, 1)}
    assert erasure_masks([0.1, 0.9, 0.5, 0.0, 0.5], bins=(0.4,), tie_seed=3)[0].keep_topk.tolist() == \
        erasure_masks([0.1, 0.9, 0.5, 0.0, 0.5], bins=(0.4,), tie_seed=3)[0].keep_topk.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=60))
def test_mask_invariants(attributions):
    scores = np.array(attributions)
    d = len(scores)
    masks = erasure_masks(scores)
    assert [m.bin for m in masks] == list(ERASER_BINS)
    for m in masks:
        assert m.keep_topk.shape == m.remove_topk.shape == (d,)
        assert np.all(m.keep_topk + m.remove_topk == 1)
        assert 1 <= m.keep_topk.sum() == m.k <= d - 1  # neither prompt is empty
        kept, removed = scores[m.keep_topk == 1], scores[m.remove_topk == 1]
        assert kept.min() >= removed.max()  # the kept words are the top-k


def _control_shift(keep_mask: np.ndarray, important: np.ndarray) -> float:
    """A deterministic control model: the output moves by the share of important words missing."""
    return float(np.sum(important & (keep_mask == 0)) / important.sum())


def test_faithful_attributions_beat_reversed_ones_on_a_control_model():
    d = 20
    important = np.zeros(d, dtype=bool)
    important[[3, 7, 11, 15]] = True
    faithful = important.astype(float) + np.linspace(0, 0.1, d)
    reversed_ = -faithful

    def scores(attributions):
        masks = erasure_masks(attributions)
        removed = [_control_shift(m.remove_topk, important) for m in masks]
        kept = [_control_shift(m.keep_topk, important) for m in masks]
        return aopc(removed, kept)

    good, bad = scores(faithful), scores(reversed_)
    assert good["comprehensiveness"] > bad["comprehensiveness"]
    assert good["sufficiency"] < bad["sufficiency"]
    # hand check: k = 1, 1, 2, 4, 10 -> removing the top-k removes min(k, 4) important words
    assert good["comprehensiveness"] == pytest.approx(np.mean([1, 1, 2, 4, 4]) / 4)
    assert good["sufficiency"] == pytest.approx(np.mean([3, 3, 2, 0, 0]) / 4)


def test_aopc_is_the_mean_over_bins():
    out = aopc([0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.0, 0.0, 0.0, 0.0])
    assert out == {"comprehensiveness": pytest.approx(0.3), "sufficiency": pytest.approx(0.1)}


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 50, allow_nan=False), min_size=n, max_size=n),
    st.lists(st.floats(0, 50, allow_nan=False), min_size=n, max_size=n),
)))
def test_aopc_in_declared_range(shifts):
    out = aopc(*shifts)
    for key in ("comprehensiveness", "sufficiency"):
        assert get_metric(key).in_range(out[key])


def test_aopc_validation():
    with pytest.raises(ValueError, match="expected one value per bin in each, got 5 and 4"):
        aopc([0.1] * 5, [0.1] * 4)
    with pytest.raises(ValueError, match="expected output-shift distances >= 0"):
        aopc([0.1, -0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="expected at least one bin"):
        erasure_masks([0.1, 0.2], bins=())
