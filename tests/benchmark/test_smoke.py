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
    assert set(metrics["run"]) == {"run_id", "created", "config_hash", "seed", "git_commit", "git_dirty"}
    assert isinstance(metrics["run"]["git_dirty"], bool)
    assert metrics["run"]["seed"] == 0
    for dataset, methods in metrics["results"][MODEL].items():
        assert set(methods) == {"gsmile", "lime", "baylime", "random"}
        for method in ("gsmile", "lime", "baylime"):
            values = methods[method]
            missing = [k for k in REQUIRED_METRICS if k not in values]
            assert not missing, (dataset, method, missing)
            for key in REQUIRED_METRICS:
                # 4 prompts per cell: the range of the per-prompt values, no confidence interval
                assert key + "_ci_low" not in values and key + "_ci_high" not in values, key
                for suffix in ("", "_min", "_max"):
                    v = values[key + suffix]
                    assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), (key, v)
                assert values[key + "_min"] <= values[key] + 1e-12 <= values[key + "_max"] + 2e-12
                assert values[key + "_n"] <= 4
    assert metrics["intervals"] == {"method": "student_t", "confidence": 0.95, "min_prompts": 10,
                                    "below_min_prompts": "range"}


def test_the_gate_reads_this_run_and_fails_a_worse_copy_of_it(smoke_run, tmp_path):
    # Comparing the run with itself alone could not fail; a copy in which gSMILE's att_auroc is
    # 0.5 lower on every 'paper' prompt must fail on exactly that cell and metric.
    import json

    from xai_bench.ops.gate import compare, load_run

    run_dir, metrics, _ = smoke_run
    worse = tmp_path / "worse"
    worse.mkdir()
    with (run_dir / "per_prompt.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    lowered = 0
    for r in rows:
        if (r["model"], r["dataset"], r["method"]) == (MODEL, "paper", "gsmile") and r["att_auroc"]:
            r["att_auroc"] = repr(float(r["att_auroc"]) - 0.5)
            lowered += 1
    assert lowered == 4
    with (worse / "per_prompt.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    doc = json.loads(json.dumps(metrics))
    doc["results"][MODEL]["paper"]["gsmile"]["att_auroc"] -= 0.5
    (worse / "metrics.json").write_text(json.dumps(doc), encoding="utf-8")

    run = load_run(run_dir / "metrics.json")  # with the per_prompt.csv beside it
    assert compare(run, run, min_prompts=4).passed  # 4 prompts per cell; the default 5 says "insufficient"
    assert compare(run, run).verdict == "insufficient"
    report = compare(run, load_run(worse), min_prompts=4)
    assert report.verdict == "fail"
    failed = {(r.model, r.dataset, r.method, r.metric) for r in report.failures}
    assert failed == {(MODEL, "paper", "gsmile", "att_auroc")}


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
