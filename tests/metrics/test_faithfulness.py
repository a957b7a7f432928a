"""faithfulness_pearson against scipy and the paper's own Table 1 -> Table 2 numbers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics import faithfulness_pearson, get_metric

# gSMILE paper Table 1: published accuracy and ATT ACC / ATT F1 / ATT AUROC.
ACCURACY = {"gpt-3.5-turbo-instruct": 0.70, "llama-3.1-70b": 0.688, "claude-2.1": 0.785}
TABLE1 = {
    "att_acc": {"gpt-3.5-turbo-instruct": 0.70, "llama-3.1-70b": 0.76, "claude-2.1": 0.82},
    "att_f1": {"gpt-3.5-turbo-instruct": 0.59, "llama-3.1-70b": 0.40, "claude-2.1": 0.67},
    "att_auroc": {"gpt-3.5-turbo-instruct": 0.84, "llama-3.1-70b": 0.84, "claude-2.1": 0.88},
}


@pytest.mark.parametrize("metric, table2_r", [("att_auroc", 0.994), ("att_acc", 0.804), ("att_f1", 0.802)])
def test_reproduces_paper_table_2(metric, table2_r):
    res = faithfulness_pearson(ACCURACY, TABLE1[metric])
    assert res.r == pytest.approx(table2_r, abs=5e-4)
    assert res.n_models == 3 and res.reason is None


def test_matches_scipy_and_numpy(seed):
    rng = np.random.default_rng(seed)
    models = [f"m{i}" for i in range(8)]
    x, y = rng.uniform(size=8), rng.uniform(size=8)
    res = faithfulness_pearson(dict(zip(models, x)), dict(zip(models, y)))
    from scipy.stats import pearsonr

    ref = pearsonr(x, y)
    assert res.r == pytest.approx(ref.statistic) and res.p == pytest.approx(ref.pvalue)
    assert res.r == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_model_order_does_not_matter():
    a = faithfulness_pearson(ACCURACY, TABLE1["att_acc"])
    b = faithfulness_pearson(dict(reversed(list(ACCURACY.items()))), TABLE1["att_acc"])
    assert a.r == pytest.approx(b.r)


@pytest.mark.parametrize(
    "acc, att, reason",
    [
        ({"a": 0.5, "b": 0.7}, {"a": 0.6, "b": 0.9}, "at least 3 models"),
        ({"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 0.6, "b": 0.9, "c": 0.1}, "model_accuracy is constant"),
        ({"a": 0.5, "b": 0.6, "c": 0.7}, {"a": 0.8, "b": 0.8, "c": 0.8}, "attribution_metric is constant"),
        ({"a": 0.5, "b": 0.6, "c": 0.7}, {"a": 0.8, "b": float("nan"), "c": 0.9}, "at least 3 models"),
    ],
)
def test_undefined_cases_give_nan_with_reason_and_no_warning(acc, att, reason):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = faithfulness_pearson(acc, att)
    assert math.isnan(res.r) and math.isnan(res.p)
    assert reason in res.reason


def test_nan_models_are_excluded_and_listed():
    acc = {"a": 0.5, "b": 0.6, "c": 0.7, "d": 0.9}
    att = {"a": 0.1, "b": 0.2, "c": 0.4, "d": float("nan")}
    res = faithfulness_pearson(acc, att)
    assert res.excluded == ("d",) and res.models == ("a", "b", "c") and res.n_models == 3
    assert not math.isnan(res.r)


def test_validation():
    with pytest.raises(ValueError, match=r"expected the same models, got only in model_accuracy: \['c'\]"):
        faithfulness_pearson({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="expected a finite number or NaN, got 'x'"):
        faithfulness_pearson({"a": 1, "b": 2, "c": "x"}, {"a": 1, "b": 2, "c": 3})


@settings(max_examples=100, deadline=None)
@given(st.integers(3, 10).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
)))
def test_in_declared_range_and_never_warns(data):
    names = [f"m{i}" for i in range(len(data[0]))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = faithfulness_pearson(dict(zip(names, data[0])), dict(zip(names, data[1])))
    if not math.isnan(res.r):
        assert get_metric("faithfulness_pearson").in_range(res.r)
        assert 0.0 <= res.p <= 1.0
    else:
        assert res.reason
