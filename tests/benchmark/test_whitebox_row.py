"""The white-box reference row in a benchmark run on the embedded model (metrics.whitebox)."""

from __future__ import annotations

import csv
import json

import pytest

pytestmark = pytest.mark.integration


def test_ablation_row_and_rank_correlation_of_every_method(tmp_path):
    from xai_bench.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.from_dict({
        "name": "whitebox", "seed": 0, "models": ["local/smollm2-135m", "oracle:@rationale"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 1}],
        "methods": ["gsmile"], "random_baseline": True, "cache": "run", "shard_size": 1, "heatmap_pngs": 0,
        "explain": {"n_perturbations": 4, "max_tokens": 8, "pvalue_permutations": 0},
        "metrics": {"stability": False, "erasure": False, "fidelity_heldout": 0, "whitebox": True},
    })
    out = tmp_path / "run"
    run_benchmark(config, out, progress=False)
    rows = list(csv.DictReader((out / "per_prompt.csv").open(encoding="utf-8")))
    local = {r["method"]: r for r in rows if r["model"] == "local/smollm2-135m"}
    assert set(local) == {"gsmile", "random", "ablation"}
    abl = local["ablation"]
    assert float(abl["llm_calls"]) == int(abl["n_words"]) + 1
    assert 0.0 <= float(abl["att_auroc"]) <= 1.0
    for m in ("gsmile", "random"):
        assert -1.0 <= float(local[m]["whitebox_spearman"]) <= 1.0
    # no logits behind a control model: no reference row, no correlation column value
    oracle = [r for r in rows if r["model"] == "oracle:@rationale"]
    assert {r["method"] for r in oracle} == {"gsmile", "random"}
    assert all(r.get("whitebox_spearman", "") == "" for r in oracle)
    doc = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    cell = doc["results"]["local/smollm2-135m"]["paper"]
    assert "ablation" in cell and "whitebox_spearman" in cell["gsmile"]
