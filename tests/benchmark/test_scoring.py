"""Variants beyond config.METHODS, and faithfulness across models in the report."""

from __future__ import annotations

import math


def test_a_variant_is_fitted_without_touching_the_method_table(embedder):
    from xai_bench.benchmark.config import VariantSpec
    from xai_bench.benchmark.scoring import PerturbationSet, fit_method
    from xai_bench.config import METHODS, ExplainConfig
    from xai_bench.explain.explainer import distance_stage, query_stage
    from xai_bench.explain.features import prompt_features
    from xai_bench.explain.perturbation import generate_perturbations

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


def test_an_explanation_that_learned_nothing_is_flagged_and_not_scored_as_perfect(tmp_path):
    # "oracle:zzzz" never finds its keyword: the output never changes, every attribution is 0.
    # Ties broken by position used to give such explanations stability Jaccard 1.0 and
    # R² = 1.0 (sklearn's convention for a constant target), in and out of sample.
    import csv
    import json

    from xai_bench.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.from_dict({
        "name": "nothing", "models": ["oracle:zzzz"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 6}],
        "methods": ["gsmile", "lime"], "explain": {"n_perturbations": 16, "pvalue_permutations": 0},
        "metrics": {"stability_changes": ["append"], "erasure": False, "fidelity_heldout": 8},
        "random_baseline": True, "cache": "run", "heatmap_pngs": 0,
    })
    out = tmp_path / "run"
    run_benchmark(config, out, progress=False)
    with (out / "per_prompt.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    for method in ("gsmile", "lime"):
        mine = [r for r in rows if r["method"] == method]
        assert len(mine) == 6
        assert {r["degenerate"] for r in mine} == {"constant output shift; constant attributions"}
        for r in mine:  # no fidelity R² of any kind for a target that never moved
            assert not [k for k, v in r.items() if k.startswith("fidelity_r2") and v != ""], r
        jaccards = [float(r["stability_jaccard"]) for r in mine]
        assert sum(jaccards) / len(jaccards) < 0.9, jaccards  # chance level, not a perfect 1.0 each
        cell = metrics["results"]["oracle:zzzz"]["paper"][method]
        assert not [k for k in cell if k.startswith("fidelity_r2")], sorted(cell)
        assert any(n.startswith(f"oracle:zzzz / paper / {method}: 6 of 6 prompt(s) with a degenerate explanation")
                   for n in metrics["notes"]), metrics["notes"]
    assert all(r["degenerate"] == "" for r in rows if r["method"] == "random")
