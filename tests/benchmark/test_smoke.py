"""End to end on the oracle control model: the planted rationale is found, chance is chance."""

from __future__ import annotations

import csv
import math

from .conftest import REQUIRED_METRICS

MODEL = "oracle:@rationale"


def test_gsmile_finds_the_planted_rationale(smoke_run):
    _, metrics, _ = smoke_run
    for dataset in ("paper", "instructions"):
        gsmile = metrics["results"][MODEL][dataset]["gsmile"]
        assert gsmile["att_auroc"] >= 0.95, (dataset, gsmile["att_auroc"])
        assert gsmile["att_auroc_n"] == 4


def test_random_baseline_sits_near_chance(smoke_run):
    _, metrics, _ = smoke_run
    for dataset in ("paper", "instructions"):
        random = metrics["results"][MODEL][dataset]["random"]
        assert 0.3 <= random["att_auroc"] <= 0.7, (dataset, random["att_auroc"])
        assert "fidelity_r2w" not in random  # no surrogate, so no fidelity
        assert random["llm_calls"] == 0


def test_metrics_json_has_every_required_key_as_a_number(smoke_run):
    _, metrics, _ = smoke_run
    assert metrics["schema_version"] == 1
    assert set(metrics["run"]) == {"run_id", "created", "config_hash", "seed", "git_commit"}
    assert metrics["run"]["seed"] == 0
    for dataset, methods in metrics["results"][MODEL].items():
        assert set(methods) == {"gsmile", "lime", "baylime", "random"}
        for method in ("gsmile", "lime", "baylime"):
            values = methods[method]
            missing = [k for k in REQUIRED_METRICS if k not in values]
            assert not missing, (dataset, method, missing)
            for key in REQUIRED_METRICS:
                for suffix in ("", "_ci_low", "_ci_high"):
                    v = values[key + suffix]
                    assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), (key, v)
                assert values[key + "_ci_low"] <= values[key] + 1e-12 <= values[key + "_ci_high"] + 2e-12


def test_metrics_json_passes_the_gate_reader(smoke_run):
    from xai_bench.gate import compare, load_run

    run_dir, _, _ = smoke_run
    run = load_run(run_dir / "metrics.json")  # with the per_prompt.csv beside it
    assert compare(run, run, min_prompts=4).passed  # 4 prompts per cell; the default 5 says "insufficient"
    assert compare(run, run).verdict == "insufficient"


def test_run_folder_has_table_report_and_heatmaps(smoke_run):
    run_dir, _, output = smoke_run
    with (run_dir / "per_prompt.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 4 * 4  # datasets x prompts x methods (3 + random)
    assert {r["method"] for r in rows} == {"gsmile", "lime", "baylime", "random"}
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## paper" in report and "att_auroc" in report and "random" in report
    assert len(list((run_dir / "heatmaps").rglob("*.html"))) == 8
    assert len(list((run_dir / "heatmaps").rglob("*.png"))) == 2
    assert "AUROC" in output and "oracle:@rationale / paper" in output  # the CLI's summary tables
