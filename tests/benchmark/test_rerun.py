"""Re-running the same configuration and seed gives the same numbers (wall time aside)."""

from __future__ import annotations

import json

from .conftest import tiny_config


def _without_time(results: dict) -> dict:
    return {model: {ds: {meth: {k: v for k, v in vals.items() if not k.startswith("seconds")}
                         for meth, vals in methods.items()}
                    for ds, methods in per.items()}
            for model, per in results.items()}


def test_rerun_gives_identical_numbers(tiny_run, tmp_path):
    from xai_bench.benchmark import run_benchmark

    a = json.loads((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    b = json.loads(run_benchmark(tiny_config(), tmp_path / "b", progress=False).read_text(encoding="utf-8"))
    assert a["run"]["config_hash"] == b["run"]["config_hash"]
    assert _without_time(a["results"]) == _without_time(b["results"])
    assert a["task_accuracy"] == b["task_accuracy"] and a["faithfulness"] == b["faithfulness"]
    gsmile = a["results"]["oracle:@rationale"]["paper"]["gsmile"]
    for key in ("att_auroc", "comprehensiveness", "stability_jaccard", "consistency_std", "fidelity_r2w_heldout"):
        assert key in gsmile


def test_another_seed_changes_the_perturbations(tmp_path):
    from xai_bench.benchmark import stages

    config = tiny_config()
    ids = stages.prepare(config, tmp_path / "s0")
    stages.prepare(config.replace(seed=1), tmp_path / "s1")
    p0 = json.loads(stages.perturb(tmp_path / "s0", ids[0]).read_text(encoding="utf-8"))
    p1 = json.loads(stages.perturb(tmp_path / "s1", ids[0]).read_text(encoding="utf-8"))
    m0 = p0["examples"][0]["sets"]["base|main"]["perturbations"]["masks"]
    m1 = p1["examples"][0]["sets"]["base|main"]["perturbations"]["masks"]
    assert m0 != m1
