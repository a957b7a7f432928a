"""The drift gate: paired per-prompt comparison, undefined values, verdicts, thresholds, inputs.

Synthetic runs are written as a real run folder (per_prompt.csv + metrics.json whose means
are computed from the rows, as the aggregate stage does). The planted regression comes from
a real benchmark run of the oracle control model: its gsmile attribution metrics are
replaced by those the ``random`` method scored on the same prompts.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from xai_bench.ops.gate import (
    DEFAULT_THRESHOLDS,
    GateInputError,
    compare,
    load_metrics,
    load_per_prompt,
    load_run,
    load_thresholds,
    metric_direction,
    paired_interval,
)

ROOT = Path(__file__).resolve().parents[2]
M = "local/smollm2-135m"
O = "oracle:@rationale"
DS = "instructions"
ATT = ("att_acc", "att_auprc", "att_auroc", "att_f1")


# ---------------------------------------------------------------------------- synthetic runs


def write_run(folder: Path, cells: dict, *, aggregate: dict | None = None) -> Path:
    """Write per_prompt.csv and metrics.json of a run into ``folder``.

    ``cells``: {(model, dataset, method): {example_id: {metric: value or None}}}; None = undefined.
    metrics.json holds the mean of the defined values of every metric (absent when undefined
    everywhere, as the aggregate stage writes it) and its count; ``aggregate`` then replaces
    values: {(model, dataset, method, metric): value} (None or NaN to plant a broken file).
    """
    folder.mkdir(parents=True, exist_ok=True)
    metrics = sorted({m for prompts in cells.values() for row in prompts.values() for m in row})
    results: dict = {}
    with (folder / "per_prompt.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "dataset", "method", "example_id", "n_words", "n_rationale", *metrics])
        for (model, dataset, method), prompts in cells.items():
            for example, row in prompts.items():
                w.writerow([model, dataset, method, example, 8, 2,
                            *("" if row.get(m) is None else repr(float(row[m])) for m in metrics)])
            out = results.setdefault(model, {}).setdefault(dataset, {}).setdefault(method, {})
            for m in metrics:
                vals = [row[m] for row in prompts.values() if row.get(m) is not None]
                if vals:
                    out[m] = float(np.mean(vals))
                    out[f"{m}_n"] = len(vals)
    for (model, dataset, method, metric), value in (aggregate or {}).items():
        results.setdefault(model, {}).setdefault(dataset, {}).setdefault(method, {})[metric] = value
    doc = {"schema_version": 1, "run": {"run_id": folder.name, "created": "2026-01-01T00:00:00+00:00",
                                        "config_hash": "abc", "seed": 0}, "results": results}
    (folder / "metrics.json").write_text(json.dumps(doc), encoding="utf-8")  # NaN written as NaN
    return folder


def prompts(n: int, **columns) -> dict:
    """{p01: {metric: value}, ...}: a column is a scalar (every prompt) or a sequence of n values."""
    out = {}
    for i in range(n):
        out[f"p{i + 1:02d}"] = {m: (v[i] if isinstance(v, (list, tuple, np.ndarray)) else v)
                                for m, v in columns.items()}
    return out


def base_cells(n: int = 8, seed: int = 0) -> dict:
    """Two cells (a local model's gsmile and the oracle's random) with noisy per-prompt values."""
    rng = np.random.default_rng(seed)
    return {
        (M, DS, "gsmile"): prompts(
            n, att_auroc=np.clip(rng.normal(0.85, 0.08, n), 0, 1), att_f1=np.clip(rng.normal(0.7, 0.1, n), 0, 1),
            stability_jaccard=rng.choice([1 / 3, 0.5, 1.0], n), fidelity_wmse=rng.uniform(0.01, 0.03, n),
            seconds=rng.uniform(5, 15, n), llm_calls=17.0),
        (O, DS, "random"): prompts(n, att_auroc=rng.uniform(0.3, 0.7, n), seconds=0.0, llm_calls=0.0),
    }


def with_values(cells: dict, cell: tuple, metric: str, values) -> dict:
    """A deep copy of ``cells`` with ``metric`` of ``cell`` set per prompt (a callable maps the old value)."""
    out = copy.deepcopy(cells)
    for i, row in enumerate(out[cell].values()):
        if callable(values):
            row[metric] = values(row[metric])
        else:
            row[metric] = values[i] if isinstance(values, (list, tuple, np.ndarray)) else values
    return out


def gate_of(tmp_path: Path, base: dict, cur: dict, thresholds=None, *, base_agg=None, cur_agg=None, **kw):
    b = load_run(write_run(tmp_path / "base", base, aggregate=base_agg))
    c = load_run(write_run(tmp_path / "cur", cur, aggregate=cur_agg))
    return compare(b, c, thresholds, **kw)


def row(report, model, method, metric, dataset=DS):
    (r,) = [r for r in report.rows if (r.model, r.dataset, r.method, r.metric) == (model, dataset, method, metric)]
    return r


G = (M, DS, "gsmile")


# ---------------------------------------------------------------------------- verdicts


def test_identical_runs_pass_with_zero_width_intervals(tmp_path):
    cells = base_cells()
    report = gate_of(tmp_path, cells, cells)
    assert report.verdict == "pass" and report.passed and report.exit_code() == 0
    auroc = row(report, M, "gsmile", "att_auroc")
    assert (auroc.verdict, auroc.n_pairs, auroc.mean_worse, auroc.ci_low, auroc.ci_high) == ("pass", 8, 0, 0, 0)
    assert auroc.tolerance == pytest.approx(0.05)
    assert row(report, M, "gsmile", "seconds").verdict == "info"  # reported, not gated
    assert not any(r.metric.endswith(("_n", "_ci_low", "_ci_high")) for r in report.rows)


def test_interval_and_range_keys_are_never_gated(tmp_path):
    """Below 10 prompts metrics.json has m_min/m_max, from 10 on m_ci_low/m_ci_high: a baseline
    with one kind and a current run with the other is not a missing metric."""
    cells = base_cells()
    agg_range = {(M, DS, "gsmile", "att_auroc_min"): 0.7, (M, DS, "gsmile", "att_auroc_max"): 0.95}
    agg_ci = {(M, DS, "gsmile", "att_auroc_ci_low"): 0.8, (M, DS, "gsmile", "att_auroc_ci_high"): 0.9}
    report = gate_of(tmp_path, cells, cells, base_agg=agg_range, cur_agg=agg_ci)
    assert report.verdict == "pass", [(r.metric, r.verdict, r.reason) for r in report.rows if r.verdict != "pass"]
    assert not any(r.metric.endswith(("_min", "_max", "_ci_low", "_ci_high")) for r in report.rows)


def test_two_prompt_noise_is_insufficient_not_fail(tmp_path):
    """SmolLM2 on 2 prompts: one changed answer moves stability_jaccard 1.0 -> 0.67."""
    base = {G: prompts(2, stability_jaccard=1.0, att_auroc=[0.9, 0.8], llm_calls=17.0)}
    cur = with_values(base, G, "stability_jaccard", [1.0, 2 / 3])
    report = gate_of(tmp_path, base, cur)
    r = row(report, M, "gsmile", "stability_jaccard")
    assert r.verdict == "insufficient" and r.n_pairs == 2
    assert r.mean_worse == pytest.approx(1 / 6)
    assert "min_prompts 5" in r.reason
    assert report.verdict == "insufficient" and not report.passed
    assert report.exit_code() == 3 and report.exit_code(allow_insufficient=True) == 0
    # with the old mean-vs-mean rule this was a fail: 0.167 > max_abs_drop 0.1
    assert r.baseline - r.current > DEFAULT_THRESHOLDS["defaults"]["stability_jaccard"]["max_abs_drop"]


def test_min_prompts_is_read_from_the_thresholds(tmp_path):
    base = {G: prompts(3, att_auroc=[0.9, 0.8, 0.85])}
    t = copy.deepcopy(DEFAULT_THRESHOLDS)
    t["min_prompts"] = 3
    assert gate_of(tmp_path, base, base, t).verdict == "pass"
    assert gate_of(tmp_path, base, base).verdict == "insufficient"
    assert gate_of(tmp_path, base, base, min_prompts=2).verdict == "pass"


def test_consistent_drop_on_enough_prompts_fails_and_small_noise_passes(tmp_path):
    cells = base_cells(n=10)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.03, 10)
    old = [p["att_auroc"] for p in cells[G].values()]
    dropped = gate_of(tmp_path / "a", cells,
                      with_values(cells, G, "att_auroc", [v - 0.25 + e for v, e in zip(old, noise)]))
    r = row(dropped, M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and dropped.verdict == "fail" and dropped.exit_code() == 1
    assert r.ci_low > 0.05 and r.mean_worse == pytest.approx(0.25 - noise.mean())
    assert "lies entirely beyond the tolerance 0.05" in r.reason
    noisy = gate_of(tmp_path / "b", cells, with_values(cells, G, "att_auroc", [v + e for v, e in zip(old, noise)]))
    assert row(noisy, M, "gsmile", "att_auroc").verdict == "pass"


def test_worsening_whose_interval_reaches_below_tolerance_passes(tmp_path):
    """Mean worsening 0.08 > 0.05, but with 5 scattered pairs the interval is wide: no evidence."""
    base = {G: prompts(5, att_auroc=0.9)}
    cur = with_values(base, G, "att_auroc", [0.9 - d for d in (0.30, -0.10, 0.15, -0.05, 0.10)])
    r = row(gate_of(tmp_path, base, cur), M, "gsmile", "att_auroc")
    assert r.mean_worse == pytest.approx(0.08)
    assert r.ci_low < 0.05 < r.mean_worse and r.verdict == "pass"


def test_lower_is_better_metrics_are_oriented(tmp_path):
    cells = base_cells()
    worse = gate_of(tmp_path / "w", cells, with_values(cells, G, "fidelity_wmse", lambda v: v * 1.5))
    r = row(worse, M, "gsmile", "fidelity_wmse")
    assert r.verdict == "fail" and r.mean_worse > 0 and r.direction == "lower"
    base_mean = np.mean([p["fidelity_wmse"] for p in cells[G].values()])
    assert r.tolerance == pytest.approx(0.25 * base_mean)  # max_rel_drop x |baseline mean|
    better = gate_of(tmp_path / "b", cells, with_values(cells, G, "fidelity_wmse", lambda v: v * 0.5))
    assert row(better, M, "gsmile", "fidelity_wmse").mean_worse < 0 and better.verdict == "pass"


def test_seconds_changes_alone_never_fail(tmp_path):
    cells = base_cells()
    slow = with_values(with_values(cells, G, "seconds", lambda v: v * 5), (O, DS, "random"), "seconds", 30.0)
    report = gate_of(tmp_path, cells, slow)
    assert report.verdict == "pass"
    r = row(report, M, "gsmile", "seconds")
    assert r.verdict == "info" and r.mean_worse > 0 and r.ci_low > 0  # clearly slower, still not gated
    assert "seconds" not in DEFAULT_THRESHOLDS["defaults"]


def test_llm_calls_are_gated(tmp_path):
    cells = base_cells()
    report = gate_of(tmp_path, cells, with_values(cells, G, "llm_calls", 21.0))  # +24 % on every prompt
    r = row(report, M, "gsmile", "llm_calls")
    assert r.verdict == "fail" and r.ci_low == r.ci_high == pytest.approx(4.0)
    assert r.tolerance == pytest.approx(1.7)


def test_min_value_applies_to_the_current_mean(tmp_path):
    cells = base_cells()
    t = {"defaults": {"att_auroc": {"min_value": 0.95}}}
    r = row(gate_of(tmp_path, cells, cells, t), M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and "< min_value 0.95" in r.reason


# ---------------------------------------------------------------------------- undefined values


@pytest.mark.parametrize("broken", [None, math.nan])
def test_null_or_nan_baseline_aggregate_never_passes(tmp_path, broken):
    cells = base_cells()
    cur = with_values(cells, G, "att_auroc", 0.3)
    report = gate_of(tmp_path, cells, cur, base_agg={(M, DS, "gsmile", "att_auroc"): broken})
    r = row(report, M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and report.verdict == "fail"
    assert "baseline metrics.json value is" in r.reason and "regenerate" in r.reason
    # the same on identical per-prompt values: a broken baseline never vouches
    same = gate_of(tmp_path / "same", cells, cells, base_agg={(M, DS, "gsmile", "att_auroc"): broken})
    assert row(same, M, "gsmile", "att_auroc").verdict == "fail"


def test_null_current_aggregate_fails(tmp_path):
    cells = base_cells()
    report = gate_of(tmp_path, cells, cells, cur_agg={(M, DS, "gsmile", "att_f1"): None})
    r = row(report, M, "gsmile", "att_f1")
    assert r.verdict == "fail" and "current metrics.json value is None" in r.reason


def test_per_prompt_value_undefined_on_one_side_fails(tmp_path):
    cells = base_cells()
    holes = [None if i in (2, 5) else v for i, v in enumerate(r["att_auroc"] for r in cells[G].values())]
    base_missing = gate_of(tmp_path / "b", with_values(cells, G, "att_auroc", holes), cells)
    r = row(base_missing, M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and r.n_only_current == 2 and r.n_pairs == 6
    assert "undefined in the baseline but defined in the current run on 2 prompt(s): p03, p06" in r.reason
    cur_missing = gate_of(tmp_path / "c", cells, with_values(cells, G, "att_auroc", holes))
    r = row(cur_missing, M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and r.n_only_baseline == 2
    assert "defined in the baseline but undefined in the current run" in r.reason


def test_prompts_undefined_on_both_sides_are_excluded_and_counted(tmp_path):
    cells = base_cells()
    old = [p["att_auroc"] for p in cells[G].values()]
    holes = with_values(cells, G, "att_auroc", [None if i in (1, 4) else v for i, v in enumerate(old)])
    r = row(gate_of(tmp_path, holes, holes), M, "gsmile", "att_auroc")
    assert r.verdict == "pass" and r.n_excluded == 2 and r.n_pairs == 6
    assert r.n_only_baseline == r.n_only_current == 0


def test_metric_undefined_on_every_baseline_prompt_cannot_be_switched_off(tmp_path):
    """The baseline computed att_auroc but it was undefined everywhere (absent from its metrics.json)."""
    cells = base_cells()
    base = with_values(cells, G, "att_auroc", None)
    report = gate_of(tmp_path, base, cells)
    r = row(report, M, "gsmile", "att_auroc")
    assert r.verdict == "fail" and "absent from the baseline metrics.json" in r.reason
    assert r.n_only_current == 8


def test_missing_prompts_fail_and_extra_prompts_are_informational(tmp_path):
    cells = base_cells()
    cur = copy.deepcopy(cells)
    del cur[G]["p08"]
    cur[G]["p99"] = dict(cells[G]["p01"])
    report = gate_of(tmp_path, cells, cur)
    gone = [r for r in report.rows if r.metric == "prompts" and r.verdict == "missing"]
    extra = [r for r in report.rows if r.metric == "prompts" and r.verdict == "new"]
    assert len(gone) == 1 and "p08" in gone[0].reason and len(extra) == 1 and "p99" in extra[0].reason
    assert report.verdict == "fail"
    only_extra = copy.deepcopy(cells)
    only_extra[G]["p99"] = dict(cells[G]["p01"])
    assert gate_of(tmp_path / "x", cells, only_extra).verdict == "pass"


def test_missing_metric_method_and_model_fail_and_new_ones_do_not(tmp_path):
    cells = base_cells()
    cur = copy.deepcopy(cells)
    for p in cur[G].values():
        del p["att_f1"]
    del cur[(O, DS, "random")]
    report = gate_of(tmp_path, cells, cur)
    missing = {(r.model, r.metric) for r in report.rows if r.verdict == "missing"}
    assert (M, "att_f1") in missing and (O, "att_auroc") in missing and (O, "seconds") in missing
    assert report.verdict == "fail"
    new = copy.deepcopy(cells)
    new[("new/model", DS, "gsmile")] = prompts(8, att_auroc=0.1)
    for p in new[G].values():
        p["att_auprc"] = 0.5
    report = gate_of(tmp_path / "new", cells, new)
    assert report.verdict == "pass"
    new_rows = {(r.model, r.metric) for r in report.rows if r.verdict == "new"}
    assert new_rows == {(M, "att_auprc"), ("new/model", "att_auroc")}


# ---------------------------------------------------------------------------- statistics


def test_t_interval_covers_the_true_mean_difference_at_its_level():
    """Paired normal differences with a known mean: the interval's coverage matches its level."""
    rng = np.random.default_rng(12345)
    true_mean, reps, n = 0.1, 4000, 8
    for level, (lo, hi) in ((0.95, (0.94, 0.96)), (0.80, (0.785, 0.815))):
        covered = 0
        for _ in range(reps):
            d = rng.normal(true_mean, 0.3, n)
            _, low, high = paired_interval(d, level)
            covered += low <= true_mean <= high
        assert lo <= covered / reps <= hi, (level, covered / reps)


def test_paired_interval_matches_scipy_and_handles_constant_differences():
    from scipy import stats

    d = [0.1, 0.3, -0.05, 0.2, 0.15]
    mean, low, high = paired_interval(d, 0.9)
    ref = stats.ttest_1samp(d, 0.0).confidence_interval(0.9)
    assert mean == pytest.approx(np.mean(d)) and (low, high) == pytest.approx((ref.low, ref.high))
    assert paired_interval([0.2] * 6) == pytest.approx((0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match=">= 2 finite differences"):
        paired_interval([0.1])
    with pytest.raises(ValueError, match="confidence"):
        paired_interval(d, 1.5)


# ---------------------------------------------------------------------------- directions, thresholds


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("att_auroc", "higher"), ("fidelity_r2", "higher"), ("fidelity_r2w_heldout", "higher"),
     ("stability_jaccard", "higher"), ("stability_jaccard_append", "higher"), ("comprehensiveness", "higher"),
     ("consistency_std", "lower"), ("fidelity_wmse", "lower"), ("fidelity_l2_heldout", "lower"),
     ("sufficiency", "lower"), ("seconds", "lower"), ("llm_calls", "lower"), ("mystery", None)],
)
def test_metric_directions(metric, direction):
    assert metric_direction(metric) == direction


def test_directions_come_from_the_metric_registry():
    from xai_bench.metrics import list_metrics

    infos = list_metrics()
    assert len(infos) >= 20
    for info in infos:
        assert metric_direction(info.name) == ("higher" if info.higher_is_better else "lower"), info.name
    assert metric_direction("seconds", {"seconds": "higher"}) == "higher"  # the thresholds file wins


def test_shipped_yaml_equals_default_constant():
    shipped = yaml.safe_load((ROOT / "configs" / "gate-thresholds.yaml").read_text())
    assert shipped == DEFAULT_THRESHOLDS
    assert shipped["confidence"] == 0.95 and shipped["min_prompts"] == 5
    assert "seconds" not in shipped["defaults"] and "llm_calls" in shipped["defaults"]
    t = load_thresholds(ROOT / "configs" / "gate-thresholds.yaml")
    assert (t.confidence, t.min_prompts) == (0.95, 5)


def test_per_model_override_is_applied_by_pattern(tmp_path):
    cells = base_cells()
    cells[(O, DS, "gsmile")] = prompts(8, att_auroc=1.0)
    cur = with_values(cells, G, "att_auroc", lambda v: v - 0.08)
    cur = with_values(cur, (O, DS, "gsmile"), "att_auroc", 0.92)
    thresholds = copy.deepcopy(DEFAULT_THRESHOLDS)
    thresholds["overrides"] = [{"model": "local/*", "metrics": {"att_auroc": {"max_abs_drop": 0.10}}}]
    report = gate_of(tmp_path, cells, cur, thresholds)
    assert row(report, M, "gsmile", "att_auroc").verdict == "pass"
    assert row(report, M, "gsmile", "att_auroc").rule == "max_abs_drop=0.1"
    assert row(report, O, "gsmile", "att_auroc").verdict == "fail"


def test_override_by_dataset_and_method_and_null_removal():
    thresholds = {
        "defaults": {"att_auroc": {"max_abs_drop": 0.05}, "llm_calls": {"max_rel_drop": 0.1}},
        "overrides": [
            {"dataset": "inst*", "method": "lime", "metrics": {"att_auroc": {"min_value": 0.79}}},
            {"model": "local/*", "metrics": {"llm_calls": None}},
        ],
    }
    t = load_thresholds(thresholds)
    assert t.rule_for(M, DS, "lime", "att_auroc") == {"max_abs_drop": 0.05, "min_value": 0.79}
    assert t.rule_for(M, DS, "gsmile", "att_auroc") == {"max_abs_drop": 0.05}
    assert t.rule_for(M, DS, "gsmile", "llm_calls") == {}
    assert t.rule_for(O, DS, "gsmile", "llm_calls") == {"max_rel_drop": 0.1}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"defaults": {"att_auroc": {"max_drop": 0.1}}}, "unknown rule 'max_drop'"),
        ({"defaults": {"att_auroc": {"max_abs_drop": -1}}}, "must be >= 0"),
        ({"defaults": {"att_auroc": {"max_abs_drop": "x"}}}, "finite number"),
        ({"defaults": {"mystery": {"max_abs_drop": 0.1}}}, "no known direction"),
        ({"overrides": [{"model": "m"}]}, "'metrics' mapping"),
        ({"overrides": [{"modle": "m", "metrics": {}}]}, "unknown key"),
        ({"defaults": {}, "typo": 1}, "unknown top-level"),
        ({"directions": {"x": "up"}}, "'higher' or 'lower'"),
        ({"min_prompts": 1}, "'min_prompts' must be an integer >= 2"),
        ({"min_prompts": 4.5}, "'min_prompts' must be an integer >= 2"),
        ({"confidence": 1.5}, "'confidence' must be a number in \\(0, 1\\)"),
    ],
)
def test_bad_thresholds_are_rejected(doc, fragment):
    with pytest.raises(GateInputError, match=fragment):
        load_thresholds(doc)


def test_declared_direction_allows_drop_rules_on_unknown_metrics(tmp_path):
    t = load_thresholds({"defaults": {"mystery": {"max_abs_drop": 0.1}}, "directions": {"mystery": "lower"}})
    base = {G: prompts(6, mystery=1.0)}
    assert gate_of(tmp_path / "a", base, with_values(base, G, "mystery", 1.2), t).verdict == "fail"
    assert gate_of(tmp_path / "b", base, with_values(base, G, "mystery", 0.5), t).verdict == "pass"


def test_thresholds_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("defaults: [unclosed")
    with pytest.raises(GateInputError, match=r"t\.yaml: invalid YAML"):
        load_thresholds(bad)
    with pytest.raises(GateInputError, match=r"absent\.yaml: thresholds file not found"):
        load_thresholds(tmp_path / "absent.yaml")


# ---------------------------------------------------------------------------- inputs


def test_load_run_from_folder_or_metrics_path(tmp_path):
    folder = write_run(tmp_path / "run", base_cells())
    a, b = load_run(folder), load_run(folder / "metrics.json")
    assert a.metrics == b.metrics == load_metrics(folder) == load_metrics(str(folder / "metrics.json"))
    assert len(a.per_prompt.rows) == 16 and "att_auroc" in a.per_prompt.metrics
    assert "n_words" not in a.per_prompt.metrics and "example_id" not in a.per_prompt.metrics
    assert math.isnan(load_per_prompt(folder).rows[(O, DS, "random", "p01")]["att_f1"])


def test_missing_per_prompt_csv_says_where_and_how(tmp_path):
    folder = write_run(tmp_path / "old-baseline", base_cells())
    (folder / "per_prompt.csv").unlink()
    with pytest.raises(GateInputError) as info:
        load_run(folder / "metrics.json")
    msg = str(info.value)
    assert str(folder / "per_prompt.csv") in msg and "xai-bench run --config CONFIG --out DIR" in msg


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "empty file"),
        ("model,dataset,method,att_auroc\nm,d,x,0.5\n", "lacks column(s) example_id"),
        ("model,dataset,method,example_id,att_auroc\nm,d,x,p1,high\n", "line 2, column 'att_auroc'"),
        ("model,dataset,method,example_id,att_auroc\nm,d,x,p1,0.5\nm,d,x,p1,0.6\n", "line 3: a second row"),
        ("model,dataset,method,example_id,att_auroc\nm,d,x,p1\n", "line 2: expected 5 fields"),
        ("model,dataset,method,example_id,a,a\nm,d,x,p1,1,2\n", "more than once"),
    ],
)
def test_malformed_per_prompt_csv_is_rejected(tmp_path, content, fragment):
    folder = write_run(tmp_path / "run", base_cells())
    (folder / "per_prompt.csv").write_text(content)
    with pytest.raises(GateInputError, match="per_prompt.csv") as info:
        load_run(folder)
    assert fragment in str(info.value)


def test_metrics_cell_without_per_prompt_rows_is_rejected(tmp_path):
    folder = write_run(tmp_path / "run", base_cells())
    lines = (folder / "per_prompt.csv").read_text().splitlines(keepends=True)
    (folder / "per_prompt.csv").write_text("".join(ln for ln in lines if "random" not in ln))
    with pytest.raises(GateInputError, match="not from the same run"):
        load_run(folder)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"schema_version": 2, "results": {}}', "schema_version"),
        ('{"schema_version": 1}', "'results'"),
        ('{"schema_version": 1, "results": {"m": {"d": {"x": {"att_auroc": "high"}}}}}', "number or null"),
    ],
)
def test_load_metrics_rejects_malformed_files(tmp_path, content, fragment):
    p = tmp_path / "metrics.json"
    p.write_text(content)
    with pytest.raises(GateInputError, match="metrics.json") as info:
        load_metrics(p)
    assert fragment in str(info.value)


def test_load_metrics_missing_file_names_it(tmp_path):
    with pytest.raises(GateInputError, match=r"nope\.json: file not found"):
        load_metrics(tmp_path / "nope.json")
    with pytest.raises(GateInputError, match=r"metrics\.json: file not found"):
        load_metrics(tmp_path)  # a folder without metrics.json


def test_compare_refuses_bare_metrics_documents(tmp_path):
    folder = write_run(tmp_path / "run", base_cells())
    with pytest.raises(TypeError, match="per_prompt.csv"):
        compare(load_metrics(folder), load_metrics(folder))


def test_report_to_dict_is_strict_json(tmp_path):
    cells = base_cells()
    report = gate_of(tmp_path, cells, with_values(cells, G, "att_auroc", 0.3),
                     base_agg={(M, DS, "gsmile", "att_f1"): math.nan})
    back = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert back["verdict"] == "fail" and back["passed"] is False and back["counts"]["fail"] == 2
    assert back["confidence"] == 0.95 and back["min_prompts"] == 5
    r = next(x for x in back["rows"] if x["metric"] == "att_auroc" and x["method"] == "gsmile")
    assert {"n_pairs", "mean_worse", "ci_low", "ci_high", "tolerance", "verdict", "reason"} <= set(r)
    assert r["n_pairs"] == 8 and r["ci_low"] > 0.05


# ---------------------------------------------------------------------------- real runs


def _oracle_config(tmp: Path) -> Path:
    data = ROOT / "data" / "prepared" / "instructions.jsonl"
    assert data.is_file(), f"{data} is missing; build the data sets first (make data)"
    cfg = {
        "name": "gate-oracle", "seed": 0, "models": [O],
        "datasets": [{"name": DS, "path": str(data), "limit": 12}],
        "methods": ["gsmile"],
        "explain": {"n_perturbations": 16, "pvalue_permutations": 0},
        "metrics": {"stability": False, "erasure": False, "fidelity_heldout": 0, "bootstrap": 200},
        "random_baseline": True, "cache": "run", "heatmap_pngs": 0,
    }
    path = tmp / "gate-oracle.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def oracle_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run: the oracle control model (planted truth, no LLM) on 12 authored instructions,
    gsmile and the random baseline, via `xai-bench run --config ... --out ...`."""
    from click.testing import CliRunner

    from xai_bench.cli import main

    out = tmp_path_factory.getbasetemp() / "gate-oracle-run"
    if not (out / "metrics.json").is_file():
        r = CliRunner().invoke(main, ["run", "--config", str(_oracle_config(tmp_path_factory.mktemp("cfg"))),
                                      "--out", str(out), "-q"])
        assert r.exit_code == 0, r.output + repr(r.exception)
    return out


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def degraded_copy(run: Path, dst: Path) -> Path:
    """The run with gsmile's attribution metrics replaced, prompt by prompt and in metrics.json,
    by those the random method (i.i.d. N(0, 1) attributions) scored on the same prompts."""
    dst.mkdir(parents=True)
    fields, rows = _read_csv(run / "per_prompt.csv")
    rand = {r["example_id"]: r for r in rows if r["method"] == "random"}
    for r in rows:
        if r["method"] == "gsmile":
            r.update({m: rand[r["example_id"]][m] for m in ATT})
    _write_csv(dst / "per_prompt.csv", fields, rows)
    doc = json.loads((run / "metrics.json").read_text())
    cell = doc["results"][O][DS]
    for key in list(cell["gsmile"]):
        if key.startswith(ATT):
            cell["gsmile"][key] = cell["random"][key]
    (dst / "metrics.json").write_text(json.dumps(doc))
    return dst


def test_real_identical_runs_pass(oracle_run):
    report = compare(load_run(oracle_run), load_run(oracle_run / "metrics.json"))
    assert report.verdict == "pass", [(r.metric, r.reason) for r in report.failures + report.insufficient]
    auroc = row(report, O, "gsmile", "att_auroc")
    assert auroc.n_pairs >= 10 and auroc.verdict == "pass" and auroc.mean_worse == 0


def test_real_planted_regression_fails(oracle_run, tmp_path):
    """gsmile explanations of the oracle replaced by random ones: a real regression, computed by the code."""
    base = load_run(oracle_run)
    gs = base.metrics["results"][O][DS]["gsmile"]
    rnd = base.metrics["results"][O][DS]["random"]
    assert gs["att_auroc"] - rnd["att_auroc"] > 0.2  # the oracle's planted truth is found, random is not
    report = compare(base, load_run(degraded_copy(oracle_run, tmp_path / "degraded")))
    assert report.verdict == "fail" and report.exit_code() == 1
    for metric in ("att_auroc", "att_f1", "att_auprc"):
        r = row(report, O, "gsmile", metric)
        assert r.verdict == "fail" and r.ci_low > r.tolerance, (metric, r)
        assert r.n_pairs >= 10
    assert row(report, O, "random", "att_auroc").verdict == "pass"  # untouched rows
    assert {r.metric for r in report.failures} == {"att_auroc", "att_f1", "att_auprc"}


def test_real_run_slower_machine_passes(oracle_run, tmp_path):
    """Only wall time changed (5x): the gate reports it and passes."""
    dst = tmp_path / "slow"
    dst.mkdir()
    fields, rows = _read_csv(oracle_run / "per_prompt.csv")
    for r in rows:
        r["seconds"] = repr(float(r["seconds"]) * 5 + 1)
    _write_csv(dst / "per_prompt.csv", fields, rows)
    doc = json.loads((oracle_run / "metrics.json").read_text())
    for cell in doc["results"][O][DS].values():
        cell["seconds"] = cell["seconds"] * 5 + 1
    (dst / "metrics.json").write_text(json.dumps(doc))
    report = compare(load_run(oracle_run), load_run(dst))
    assert report.verdict == "pass"
    r = row(report, O, "gsmile", "seconds")
    assert r.verdict == "info" and r.ci_low > 0


def test_pipeline_records_insufficient_without_failing(oracle_run, tmp_path):
    """`run --record` / the DAG: a 2-prompt baseline gives "insufficient", recorded in gate.json
    and in the audit record, and run_gate does not raise."""
    from xai_bench.ops.audit import read_records
    from xai_bench.ops.pipeline import record_audit, run_gate

    small = tmp_path / "small"
    shutil.copytree(oracle_run, small, ignore=shutil.ignore_patterns("responses.sqlite", "heatmaps"))
    fields, rows = _read_csv(small / "per_prompt.csv")
    keep = sorted({r["example_id"] for r in rows})[:2]
    _write_csv(small / "per_prompt.csv", fields, [r for r in rows if r["example_id"] in keep])
    gate = run_gate(small, str(small))
    assert gate["verdict"] == "insufficient" and gate["report"]["counts"]["fail"] == 0
    assert json.loads((small / "gate.json").read_text())["verdict"] == "insufficient"
    rec = record_audit(small, log_path=tmp_path / "audit.jsonl", gate=gate)
    assert rec["gate_verdict"] == "insufficient"
    assert [r["gate_verdict"] for r in read_records(tmp_path / "audit.jsonl")] == ["insufficient"]
    assert run_gate(oracle_run, str(oracle_run / "metrics.json"))["verdict"] == "pass"


@pytest.mark.integration
def test_mlflow_run_is_read_with_its_per_prompt_artifact(oracle_run, tmp_path, monkeypatch):
    """A run logged by xai_bench.ops.tracking to a real (local SQLite) MLflow store is gated by run id."""
    from mlflow import MlflowClient

    from xai_bench.ops.tracking import log_benchmark_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # how the gate finds the store
    run_id = log_benchmark_run(oracle_run, tracking_uri=uri, artifact_location=(tmp_path / "art").as_uri())
    from_mlflow = load_run(f"mlflow:{run_id}")
    local = load_run(oracle_run)
    assert from_mlflow.metrics == local.metrics
    assert from_mlflow.per_prompt.rows.keys() == local.per_prompt.rows.keys()
    assert compare(local, load_run(f"runs:/{run_id}")).verdict == "pass"
    assert compare(from_mlflow, load_run(degraded_copy(oracle_run, tmp_path / "deg"))).verdict == "fail"

    # a run whose per_prompt.csv was never logged cannot be gated: exit-2 error naming the artifact
    client = MlflowClient(uri)
    bare = client.create_run(client.get_experiment_by_name("xai-bench").experiment_id)
    client.log_artifact(bare.info.run_id, str(oracle_run / "metrics.json"))
    client.set_terminated(bare.info.run_id)
    assert load_metrics(f"mlflow:{bare.info.run_id}") == local.metrics
    with pytest.raises(GateInputError, match="could not download artifact 'per_prompt.csv'"):
        load_run(f"mlflow:{bare.info.run_id}")
    with pytest.raises(GateInputError, match="could not download artifact 'metrics.json'"):
        load_run("mlflow:0123456789abcdef")
