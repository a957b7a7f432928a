"""Tests generated over the metric registry: metadata, docstrings, names, suggestions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xai_bench.metrics as metrics
from xai_bench.metrics import registry
from xai_bench.metrics.registry import MetricInfo, declare_metric, get_metric, list_metrics, register_metric

REQUIRED = [
    "att_acc", "att_f1", "att_auroc", "att_auprc", "comprehensiveness", "sufficiency",
    "stability_jaccard", "consistency_std", "consistency_var", "faithfulness_pearson",
]
FIDELITY = [
    "fidelity_r2", "fidelity_r2w", "fidelity_r2w_adj", "fidelity_wmse", "fidelity_wmae", "fidelity_l1", "fidelity_l2",
]
ALL_NAMES = REQUIRED + FIDELITY + [f"{n}_heldout" for n in FIDELITY]

# One canonical call per implementation this package owns: value of each metric it computes.
_rng = np.random.default_rng(0)
EXAMPLES = {
    "xai_bench.metrics.accuracy:attribution_accuracy": lambda f: f([0.1, 0.9, 0.5, 0.0], [0, 1, 0, 1]),
    "xai_bench.metrics.erasure:aopc": lambda f: f([0.4, 0.3, 0.2, 0.2, 0.1], [0.1, 0.1, 0.0, 0.0, 0.0]),
    "xai_bench.metrics.consistency:consistency": lambda f: f(_rng.normal(size=(10, 6))),
    "xai_bench.metrics.stability:topk_jaccard": lambda f: f(["a", "b", "c"], [3, 2, 1], ["a", "b", "c"], [3, 1, 2], 2),
    "xai_bench.metrics.faithfulness:faithfulness_pearson": lambda f: f(
        {"a": 0.70, "b": 0.688, "c": 0.785}, {"a": 0.84, "b": 0.84, "c": 0.88}
    ).r,
    "xai_bench.metrics.reference:reference_spearman": lambda f: f([0.3, 0.1, 0.9, 0.5], [0.2, 0.0, 1.0, 0.4]),
    "xai_bench.metrics.fidelity:fidelity_stats": lambda f: f(
        np.array([0.1, 0.5, 0.4, 0.9, 0.3, 0.7]), np.array([0.2, 0.45, 0.4, 0.8, 0.35, 0.6]),
        np.array([1.0, 0.5, 0.8, 0.9, 1.0, 0.3]), 2,
    ),
}
OWNED = {k for k in EXAMPLES if not k.startswith("xai_bench.metrics.fidelity:")}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_required_names_are_registered(name):
    assert get_metric(name).name == name


@pytest.mark.parametrize("info", list_metrics(), ids=lambda i: i.name)
def test_every_metric_declares_direction_range_and_aggregation(info: MetricInfo):
    assert isinstance(info.higher_is_better, bool)
    low, high = info.range
    assert low < high and not math.isnan(low) and not math.isnan(high)
    assert info.aggregation in registry.AGGREGATIONS
    assert info.description


@pytest.mark.parametrize("info", list_metrics(), ids=lambda i: i.name)
def test_every_metric_resolves_to_a_function_with_a_docstring(info: MetricInfo):
    fn = info.function()
    assert (fn.__doc__ or "").strip(), f"{info.implementation} has no docstring"


@pytest.mark.parametrize("implementation", sorted(OWNED))
def test_owned_metric_docstrings_state_definition_citation_range_and_direction(implementation):
    fn = get_metric(next(i.name for i in list_metrics() if i.implementation == implementation)).function()
    doc = fn.__doc__ or ""
    assert len(doc.split()) >= 60, f"{implementation} needs a docstring with its definition"
    assert "Range" in doc, f"{implementation}'s docstring must state the range"
    assert "better" in doc, f"{implementation}'s docstring must state the direction"
    assert any(w in doc for w in ("eq.", "section", "ERASER", "DeYoung")), "cite the definition"


@pytest.mark.parametrize("info", [i for i in list_metrics() if i.implementation in EXAMPLES], ids=lambda i: i.name)
def test_example_value_is_in_declared_range(info: MetricInfo):
    result = EXAMPLES[info.implementation](info.function())
    value = result[info.key] if info.key is not None else result
    assert isinstance(value, float) and info.in_range(value), (info.name, value)


def test_every_implementation_has_an_example():
    assert {i.implementation for i in list_metrics()} == set(EXAMPLES)


def test_directions_of_key_metrics():
    assert get_metric("att_auroc").higher_is_better
    assert get_metric("comprehensiveness").higher_is_better
    assert not get_metric("sufficiency").higher_is_better
    assert not get_metric("consistency_std").higher_is_better
    assert not get_metric("fidelity_wmse_heldout").higher_is_better
    assert get_metric("fidelity_r2w_adj").range == (-math.inf, 1.0)
    assert get_metric("faithfulness_pearson").aggregation == "across_models"


def test_unknown_name_suggests_close_names():
    with pytest.raises(KeyError) as e:
        get_metric("auroc")
    msg = str(e.value)
    assert "Unknown metric 'auroc'. Did you mean 'att_auroc'" in msg
    assert "Available: " in msg and "stability_jaccard" in msg
    with pytest.raises(KeyError, match="Did you mean 'fidelity_r2w'"):
        get_metric("fidelty_r2w")
    with pytest.raises(KeyError, match="Did you mean 'stability_jaccard'"):
        get_metric("jaccard")
    with pytest.raises(KeyError) as e:
        get_metric("zzzz")
    assert "Did you mean" not in str(e.value) and "Available: att_acc" in str(e.value)


def test_registration_conflicts(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_metric("tmp_metric", higher_is_better=True, range=(0.0, 1.0), description="x")
    def tmp(values):
        return {"tmp_metric": 0.5}

    register_metric("tmp_metric", higher_is_better=True, range=(0.0, 1.0), description="x")(tmp)  # identical: ok
    with pytest.raises(ValueError, match="already registered with different metadata"):
        register_metric("tmp_metric", higher_is_better=False, range=(0.0, 1.0), description="x")(tmp)
    with pytest.raises(ValueError, match="aggregation must be one of"):
        declare_metric("tmp2", higher_is_better=True, range=(0, 1), implementation="m:f", aggregation="median")
    with pytest.raises(ValueError, match="low < high"):
        declare_metric("tmp3", higher_is_better=True, range=(1, 0), implementation="m:f")


def test_missing_implementation_is_a_chained_import_error(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    info = declare_metric("tmp_missing", higher_is_better=True, range=(0, 1), implementation="xai_bench.nope:f")
    with pytest.raises(ImportError, match="cannot be imported") as e:
        info.function()
    assert e.value.__cause__ is not None


def test_public_surface_is_explicit():
    assert set(metrics.__all__) <= set(dir(metrics))
    for name in ("attribution_accuracy", "erasure_masks", "aopc", "topk_jaccard", "minimal_changes",
                 "consistency", "faithfulness_pearson", "bootstrap_ci", "aggregate", "random_attributions",
                 "register_metric", "get_metric", "MetricInfo"):
        assert name in metrics.__all__
