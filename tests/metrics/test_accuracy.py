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


def test_topk_ties_are_broken_by_a_seeded_random_order():
    # The same seed gives the same choice; over seeds every position is chosen about as often.
    assert (binarize_attributions([1.0] * 4, k=2, tie_seed=7).tolist()
            == binarize_attributions([1.0] * 4, k=2, tie_seed=7).tolist())
    picks = np.array([binarize_attributions([1.0] * 4, k=2, tie_seed=s) for s in range(400)])
    assert np.all(picks.sum(axis=1) == 2)
    np.testing.assert_allclose(picks.mean(axis=0), 0.5, atol=0.08)
    # only tied words are shuffled: a larger attribution still ranks first
    assert all(binarize_attributions([1.0, 3.0, 1.0, 1.0], k=1, tie_seed=s).tolist() == [0, 1, 0, 0]
               for s in range(20))


def test_constant_attributions_score_chance_not_the_rationale_position():
    # An explanation that learned nothing (all 0) against a rationale at the start of the
    # prompt: with ties broken by position it would score ACC = F1 = 1 on every prompt.
    mask = [1, 1, 0, 0, 0, 0, 0, 0]
    rows = [attribution_accuracy([0.0] * 8, mask, tie_seed=s) for s in range(300)]
    assert all(r["att_auroc"] == 0.5 for r in rows)  # all ties: no ranking information
    # top-2 of 8 at random: E[TP] = 2 * 2/8, so E[F1] = E[TP]/2 = 0.25 and E[ACC] = 1 - 2 (2 - E[TP]) / 8
    assert np.mean([r["att_f1"] for r in rows]) == pytest.approx(0.25, abs=0.05)
    assert np.mean([r["att_acc"] for r in rows]) == pytest.approx(1 - 2 * (2 - 0.5) / 8, abs=0.03)


def test_threshold_mode_is_strict():
    out = attribution_accuracy([0.0, 0.2, 0.0, 0.3], [0, 1, 0, 1], binarize="threshold", threshold=0.0)
    assert out["att_acc"] == 1.0 and out["att_f1"] == 1.0
    # 0.2 is not > 0.2
    out = attribution_accuracy([0.0, 0.2, 0.0, 0.3], [0, 1, 0, 1], binarize="threshold", threshold=0.2)
    assert out["att_acc"] == 0.75


@pytest.mark.parametrize("mask", [[0, 0, 0], [1, 1, 1]])
@pytest.mark.parametrize("kwargs", [{}, {"binarize": "threshold", "threshold": 0.15}])
def test_one_class_rationale_makes_every_metric_undefined(mask, kwargs):
    # top-k with k = d (or 0) reproduces a one-class mask whatever the attributions: a
    # perfect ACC and F1 would reward an explanation that learned nothing, so all four
    # metrics are undefined there and average over the same prompts.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = attribution_accuracy([0.3, 0.1, 0.2], mask, **kwargs)
    assert all(math.isnan(out[k]) for k in ATT_KEYS), out


def test_one_class_prompts_leave_every_mean_on_the_same_prompts():
    from xai_bench.metrics import aggregate

    rows = [attribution_accuracy([0.3, 0.1, 0.2], m) for m in ([1, 1, 1], [0, 1, 0], [1, 0, 0])]
    out = aggregate(rows)
    assert {out[f"{k}_n"] for k in ATT_KEYS} == {2}
    assert out["att_acc"] < 1.0  # the all-rationale prompt no longer lifts ACC to a free 1


def test_f1_zero_with_a_false_positive_and_no_true_positive():
    out = attribution_accuracy([0.3, 0.1, 0.0], [0, 0, 1], binarize="threshold", threshold=0.2)
    assert out["att_f1"] == 0.0  # TP = 0, FP = 1, FN = 1: F1 = 0, defined
    assert out["att_acc"] == pytest.approx(1 / 3)


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
        out = attribution_accuracy(scores, mask, tie_seed=11)
        # independent top-k: the k largest, ties in the order of a permutation seeded like the library's
        tiebreak = np.random.default_rng(11).permutation(len(scores))
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], tiebreak[i]))
        predicted = np.zeros_like(mask)
        predicted[order[: mask.sum()]] = 1
    else:
        out = attribution_accuracy(scores, mask, binarize="threshold", threshold=threshold)
        predicted = (scores > threshold).astype(int)
    if not 0 < mask.sum() < len(mask):  # one class: undefined (see the test above)
        assert all(math.isnan(out[k]) for k in ATT_KEYS)
        return
    assert out["att_acc"] == pytest.approx(accuracy_score(mask, predicted))
    expected_f1 = f1_score(mask, predicted, zero_division=np.nan)
    if math.isnan(expected_f1):
        assert math.isnan(out["att_f1"])
    else:
        assert out["att_f1"] == pytest.approx(expected_f1)
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
