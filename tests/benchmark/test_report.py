"""report.aggregate: intervals only where they mean something, paired comparisons, footnotes."""

from __future__ import annotations

import csv
import json
import math


def _per_prompt(run_dir) -> list[dict[str, str]]:
    with (run_dir / "per_prompt.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_paired_differences_are_per_prompt_differences_on_the_same_prompts(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    rows = _per_prompt(tiny_run)
    paired = metrics["paired"]["oracle:@rationale"]["paper"]
    assert set(paired) == {"gsmile - lime", "gsmile - random"}
    value = {(r["method"], r["example_id"]): r for r in rows}
    for comparison, d in paired.items():
        method, baseline = comparison.split(" - ")
        assert not [k for k in d if k.startswith(("consistency", "fidelity", "seconds", "llm_calls"))], sorted(d)
        for metric in ("att_auroc", "att_f1", "stability_jaccard"):
            diffs = [float(value[(method, e)][metric]) - float(value[(baseline, e)][metric])
                     for (m, e) in value if m == method
                     if value[(method, e)][metric] and value.get((baseline, e), {}).get(metric)]
            assert d[f"{metric}_n"] == len(diffs) == 2
            assert math.isclose(d[metric], sum(diffs) / len(diffs), abs_tol=1e-12)
            assert (d[f"{metric}_min"], d[f"{metric}_max"]) == (min(diffs), max(diffs))
            assert f"{metric}_ci_low" not in d  # 2 prompts: a range, no interval


def test_report_states_the_interval_rule_and_does_not_compare_consistency_across_methods(tiny_run):
    report = (tiny_run / "report.md").read_text(encoding="utf-8")
    assert "95% Student-t confidence interval of the mean" in report
    assert "bootstrap" not in report
    assert "### Paired comparisons (same prompts)" in report
    assert "| `oracle:@rationale` | gsmile - lime | 2 |" in report
    # consistency_std carries its footnote marker and the footnote says why it is not ranked
    header = next(line for line in report.splitlines() if line.startswith("| model | method | prompts | att_"))
    assert "consistency_std †" in header
    assert "not ranked across methods" in report
    paired_header = next(line for line in report.splitlines() if line.startswith("| model | comparison |"))
    assert "consistency" not in paired_header and "fidelity" not in paired_header


def test_cells_show_an_interval_only_from_ten_prompts(tiny_run):
    from xai_bench.benchmark.config import BenchmarkConfig
    from xai_bench.benchmark.report import _cell, _summaries

    config = BenchmarkConfig.from_dict(json.loads((tiny_run / "config.json").read_text(encoding="utf-8")))
    few = _summaries([{"att_f1": v} for v in (0.2, 0.6, 0.4)], config)
    assert _cell(few, "att_f1") == "0.400 (0.200 to 0.600)"
    many = _summaries([{"att_f1": v} for v in (0.2, 0.6, 0.4, 0.5, 0.3) * 2], config)
    assert "att_f1_min" not in many and _cell(many, "att_f1").startswith("0.400 [")


def test_task_accuracy_interval_is_wilson_at_the_configured_level(tiny_run):
    from scipy.stats import binomtest

    from xai_bench.benchmark.config import BenchmarkConfig
    from xai_bench.benchmark.task_accuracy import task_accuracy

    config = BenchmarkConfig.from_dict(json.loads((tiny_run / "config.json").read_text(encoding="utf-8")))
    task = [{"model": "m", "dataset": "d", "correct": c, "parsed": "A"} for c in (True, True, False, True)]
    out = task_accuracy(task, config.metrics.confidence)["m"]["d"]
    ref = binomtest(3, 4).proportion_ci(confidence_level=config.metrics.confidence, method="wilson")
    assert out["task_accuracy"] == 0.75
    assert (out["task_accuracy_ci_low"], out["task_accuracy_ci_high"]) == (ref.low, ref.high)
    assert out["task_accuracy_ci_low"] < 0.75 < out["task_accuracy_ci_high"]  # a real interval at n = 4


def test_the_report_takes_every_direction_from_the_metric_registry():
    """The 'higher is better' sentence is built from metrics.registry, the one owner of directions."""
    from xai_bench.benchmark.report import OWN_UNITS, REPORT_COLUMNS, _directions
    from xai_bench.metrics.registry import direction

    higher, lower = _directions().removeprefix("Higher is better for ").split("; lower for ")
    columns = [c for _, cols in REPORT_COLUMNS for c in cols if c not in OWN_UNITS]
    assert higher.split(", ") == [c for c in columns if direction(c) == "higher"]
    assert lower.split(", ") == [c for c in columns if direction(c) == "lower"]
    assert "sufficiency" in lower and "att_auroc" in higher and "llm_calls" in lower
