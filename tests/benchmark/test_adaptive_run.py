"""sampling: adaptive in the benchmark (issue 11, item 1): the perturb stage draws the adaptive masks
(querying through the run's cache), the query stage answers them from the cache, and the per-prompt
rows report calls and tokens."""

from __future__ import annotations

import csv

import numpy as np


def test_an_adaptive_run_draws_anchor_and_pairs_and_reports_its_cost(tmp_path):
    from xai_bench.benchmark import BenchmarkConfig, run_benchmark, stages
    from xai_bench.benchmark.rundir import read_json, stage_path

    config = BenchmarkConfig.from_dict({
        "name": "tiny-adaptive", "models": ["oracle:@rationale"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 2}],
        "methods": ["gsmile", "lime"],
        "explain": {"n_perturbations": 32, "pvalue_permutations": 0, "sampling": "adaptive"},
        "metrics": {"stability": False, "consistency_runs": 0, "fidelity_heldout": 8, "erasure": False},
        "cache": "run", "heatmap_pngs": 0,
    })
    out = tmp_path / "run"
    run_benchmark(config, out, progress=False)
    assert read_json(out / "config.json")["explain"]["sampling"] == "adaptive"  # recorded with the run
    for shard_id in stages.shard_ids(out):
        perturbed = read_json(stage_path(out, "perturb", shard_id))
        queried = read_json(stage_path(out, "query", shard_id))
        for ex_p, ex_q in zip(perturbed["examples"], queried["examples"]):
            masks = np.array(ex_p["sets"]["base|main"]["perturbations"]["masks"])
            assert masks[0].all() and len(masks) <= 32  # the anchor first, never more than the cap
            pairs = masks[1:]
            assert np.all(pairs[0::2] + pairs[1::2] == 1)  # complement pairs
            held = {m.tobytes() for m in np.array(ex_p["sets"]["base|heldout"]["perturbations"]["masks"],
                                                  dtype=np.int8)}
            assert not held & {m.tobytes() for m in masks.astype(np.int8)}  # held out stays disjoint
            usage = ex_q["sets"]["base|main"]["usage"]
            assert usage["llm_calls"] == 0 and usage["cache_hits"] == len(masks)  # sent once, in perturb
    with open(out / "per_prompt.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["method"] == "gsmile"]
    assert rows and all(float(r["prompt_tokens"]) > 0 and float(r["completion_tokens"]) > 0 for r in rows)
    assert all(float(r["llm_calls"]) < 32 for r in rows)
