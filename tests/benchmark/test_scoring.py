"""Variants beyond config.METHODS, and faithfulness across models in the report."""

from __future__ import annotations

import math


def test_a_variant_is_fitted_without_touching_the_method_table(embedder):
    from xai_bench.benchmark.config import VariantSpec
    from xai_bench.benchmark.scoring import PerturbationSet, fit_method
    from xai_bench.config import METHODS, ExplainConfig
    from xai_bench.explainer import distance_stage, query_stage
    from xai_bench.features import prompt_features
    from xai_bench.perturbation import generate_perturbations

    cfg = ExplainConfig(methods=("gsmile", "lime"), n_perturbations=16, pvalue_permutations=0)
    feats = prompt_features("What is the meaning of life ?")
    perts = generate_perturbations(feats, n=16, seed=0)
    q = query_stage(feats, perts, "oracle:meaning,life", cfg, progress=False)
    d = distance_stage(feats, perts, q, cfg, embedder=embedder)
    s = PerturbationSet(features=feats, perts=perts, query=q, dist=d)
    before = dict(METHODS)
    spec = VariantSpec(name="sum_in", input_distance="wmd+cosine", output_distance="wmd+cosine",
                       surrogate="bayesian_ridge")
    e = fit_method(spec, s, "oracle:meaning,life", cfg)
    assert METHODS == before
    assert e.method == "sum_in" and len(e.attributions) == feats.n
    top = {w for _, w, _ in e.top(2)}
    assert top == {"meaning", "life"}
    gs = fit_method(VariantSpec(name="gsmile", input_distance="wmd"), s, "oracle:meaning,life", cfg)
    assert gs.method == "gsmile"


def _results(values: dict[str, float]) -> dict:
    return {m: {"cose": {"gsmile": {"att_auroc": v}}} for m, v in values.items()}


def test_faithfulness_needs_three_real_models_and_ignores_controls():
    from xai_bench.benchmark.config import BenchmarkConfig
    from xai_bench.benchmark.report import _faithfulness

    config = BenchmarkConfig.from_dict({"models": ["a/x"], "datasets": [{"name": "cose"}]})
    acc = {m: {"cose": {"task_accuracy": a}} for m, a in {"a/1": 0.2, "a/2": 0.5, "a/3": 0.8, "oracle:@rationale": 0.0}.items()}
    notes: list[str] = []
    faith = _faithfulness(_results({"a/1": 0.6, "a/2": 0.7, "a/3": 0.9, "oracle:@rationale": 1.0}), acc, config, notes)
    entry = faith["cose"]["gsmile"]["att_auroc"]
    assert entry["models"] == ["a/1", "a/2", "a/3"] and entry["n_models"] == 3
    assert math.isclose(entry["r"], 0.9819805060619657)
    notes = []
    assert _faithfulness(_results({"a/1": 0.6, "a/2": 0.7}), acc, config, notes) == {}
    assert "needs at least 3 models" in notes[0]
    published = config.replace(model_accuracy={"a/1": 0.9, "a/2": 0.5, "a/3": 0.1})
    entry = _faithfulness(_results({"a/1": 0.6, "a/2": 0.7, "a/3": 0.9}), acc, published, [])["cose"]["gsmile"]["att_auroc"]
    assert entry["r"] < 0 and set(entry["accuracy_source"].values()) == {"published"}
