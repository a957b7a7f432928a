"""attribution_accuracy against hand-computed fixtures and scikit-learn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from xai_bench.metrics import attribution_accuracy, binarize_attributions, get_metric

ATT_KEYS = ("att_acc", "att_f1", "att_auroc", "att_auprc")


def _pairwise_auroc(scores: np.ndarray, mask: np.ndarray) -> float:
    """Mann-Whitney form of AUROC: P(score of a positive > score of a negative), ties 1/2."""
    pos, neg = scores[mask == 1], scores[mask == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _average_precision_distinct(scores: np.ndarray, mask: np.ndarray) -> float:
    """AP for distinct scores: mean over positives of precision at that positive's rank."""
    order = np.argsort(-scores)
    hits, total = 0, 0.0
    for rank, i in enumerate(order, start=1):
        if mask[i]:
            hits += 1
            total += hits / rank
    return total / mask.sum()


def test_hand_computed_fixture():
    # top-2 (k = 2 rationale words) picks positions 1 and 2; truth is 1 and 3.
    out = attribution_accuracy([0.1, 0.9, 0.5, 0.0], [0, 1, 0, 1])
    assert out["att_acc"] == pytest.approx(0.5)  # positions 0 and 1 right, 2 and 3 wrong
    assert out["att_f1"] == pytest.approx(0.5)  # TP=1, FP=1, FN=1
    assert out["att_auroc"] == pytest.approx(0.5)  # 0.9 beats both negatives, 0.0 beats none
    assert out["att_auprc"] == pytest.approx(0.75)  # precision 1 at rank 1, 2/4 at rank 4


def test_perfect_and_reversed_ranking():
    mask = [0, 1, 1, 0, 0]
    perfect = attribution_accuracy([0.0, 2.0, 1.0, -1.0, 0.5], mask)
    assert perfect == {"att_acc": 1.0, "att_f1": 1.0, "att_auroc": 1.0, "att_auprc": 1.0}
    reversed_ = attribution_accuracy([0.0, -2.0, -1.0, 1.0, 0.5], mask)
    assert reversed_["att_auroc"] == 0.0
    assert reversed_["att_f1"] == 0.0


def test_topk_ties_broken_by_position():
    assert binarize_attributions([1.0, 1.0, 1.0, 1.0], k=2).tolist() == [1, 1, 0, 0]
    out = attribution_accuracy([1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1])
    assert out["att_acc"] == 0.0 and out["att_f1"] == 0.0
    assert out["att_auroc"] == 0.5  # all ties: no ranking information


def test_threshold_mode_is_strict():
    out = attribution_accuracy([0.0, 0.2, 0.0, 0.3], [0, 1, 0, 1], binarize="threshold", threshold=0.0)
    assert out["att_acc"] == 1.0 and out["att_f1"] == 1.0
    # 0.2 is not > 0.2
    out = attribution_accuracy([0.0, 0.2, 0.0, 0.3], [0, 1, 0, 1], binarize="threshold", threshold=0.2)
    assert out["att_acc"] == 0.75


@pytest.mark.parametrize("mask", [[0, 0, 0], [1, 1, 1]])
def test_constant_mask_gives_nan_ranking_metrics_without_warnings(mask):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = attribution_accuracy([0.3, 0.1, 0.2], mask)
    assert math.isnan(out["att_auroc"]) and math.isnan(out["att_auprc"])
    assert out["att_acc"] == 1.0  # top-0 or top-3 reproduces a constant mask exactly


def test_f1_undefined_without_any_positive():
    out = attribution_accuracy([0.3, 0.1], [0, 0], binarize="threshold", threshold=1.0)
    assert math.isnan(out["att_f1"])
    out = attribution_accuracy([0.3, 0.1], [0, 0], binarize="threshold", threshold=0.2)
    assert out["att_f1"] == 0.0  # one false positive: F1 = 0, defined


@settings(max_examples=200, deadline=None)
@given(
    data=st.integers(min_value=2, max_value=30).flatmap(
        lambda d: st.tuples(
            st.lists(st.floats(-10, 10, allow_nan=False), min_size=d, max_size=d),
            st.lists(st.integers(0, 1), min_size=d, max_size=d),
        )
    ),
    threshold=st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)),
)
def test_matches_sklearn_and_stays_in_range(data, threshold):
    scores, mask = np.array(data[0]), np.array(data[1])
    if threshold is None:
        out = attribution_accuracy(scores, mask)
        predicted = np.zeros_like(mask)
        predicted[np.argsort(-scores, kind="stable")[: mask.sum()]] = 1
    else:
        out = attribution_accuracy(scores, mask, binarize="threshold", threshold=threshold)
        predicted = (scores > threshold).astype(int)
    assert out["att_acc"] == pytest.approx(accuracy_score(mask, predicted))
    expected_f1 = f1_score(mask, predicted, zero_division=np.nan)
    if math.isnan(expected_f1):
        assert math.isnan(out["att_f1"])
    else:
        assert out["att_f1"] == pytest.approx(expected_f1)
    if 0 < mask.sum() < len(mask):
        assert out["att_auroc"] == pytest.approx(_pairwise_auroc(scores, mask))
    for key in ATT_KEYS:
        if not math.isnan(out[key]):
            assert get_metric(key).in_range(out[key]), (key, out[key])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=2, max_value=25).flatmap(
        lambda d: st.tuples(
            st.lists(st.floats(-10, 10, allow_nan=False), min_size=d, max_size=d, unique=True),
            st.lists(st.integers(0, 1), min_size=d, max_size=d).filter(lambda m: 0 < sum(m) < len(m)),
        )
    )
)
def test_auprc_matches_independent_average_precision(data):
    scores, mask = np.array(data[0]), np.array(data[1])
    out = attribution_accuracy(scores, mask)
    assert out["att_auprc"] == pytest.approx(_average_precision_distinct(scores, mask))


def test_shape_mismatch_message():
    with pytest.raises(ValueError, match=r"expected length 3.*got 2"):
        attribution_accuracy([0.1, 0.2, 0.3], [0, 1])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"binarize": "threshold"}, "needs a threshold"),
        ({"threshold": 0.5}, "only used with binarize='threshold'"),
        ({"binarize": "top3"}, "expected 'topk' or 'threshold'"),
    ],
)
def test_parameter_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        attribution_accuracy([0.1, 0.2], [0, 1], **kwargs)


@pytest.mark.parametrize(
    "attributions, mask, pattern",
    [
        ([0.1, float("nan")], [0, 1], "expected finite numbers"),
        ([0.1, 0.2], [0, 2], "expected only 0 and 1"),
        ([], [], "expected at least 1 value"),
        ([[0.1, 0.2]], [[0, 1]], "expected a 1-D"),
    ],
)
def test_input_validation(attributions, mask, pattern):
    with pytest.raises(ValueError, match=pattern):
        attribution_accuracy(attributions, mask)
