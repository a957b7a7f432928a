"""The drift gate: loading metrics.json, thresholds, directions, overrides and verdicts."""

from __future__ import annotations

import copy
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from xai_bench.gate import (
    DEFAULT_THRESHOLDS,
    GateInputError,
    compare,
    load_metrics,
    load_thresholds,
    metric_direction,
)

ROOT = Path(__file__).resolve().parents[1]


def metrics_doc(**cells: dict) -> dict:
    """A metrics.json document; the default holds two models (with '/' and ':'), one dataset, two methods."""
    results = {
        "local/smollm2-135m": {
            "rationales": {
                "gsmile": {"att_auroc": 0.91, "att_auroc_ci_low": 0.85, "att_auroc_ci_high": 0.96,
                           "att_f1": 0.70, "fidelity_wmse": 0.020, "seconds": 12.0, "llm_calls": 64},
                "lime": {"att_auroc": 0.80, "att_f1": 0.60, "fidelity_wmse": 0.030, "seconds": 10.0, "llm_calls": 64},
            }
        },
        "oracle:meaning,life": {
            "rationales": {"gsmile": {"att_auroc": 1.0, "att_f1": 1.0, "seconds": 0.5, "llm_calls": 64}}
        },
    }
    doc = {"schema_version": 1,
           "run": {"run_id": "r1", "created": "2025-01-01T00:00:00Z", "config_hash": "abc", "seed": 0},
           "results": results}
    for path, value in cells.items():
        model, dataset, method, metric = path.split("|")
        doc["results"].setdefault(model, {}).setdefault(dataset, {}).setdefault(method, {})[metric] = value
    return doc


def with_value(doc: dict, model: str, method: str, metric: str, value) -> dict:
    out = copy.deepcopy(doc)
    out["results"][model]["rationales"][method][metric] = value
    return out


def row(report, model, method, metric):
    (r,) = [r for r in report.rows if (r.model, r.method, r.metric) == (model, method, metric)]
    return r


M = "local/smollm2-135m"


def test_equal_documents_pass_and_ci_bounds_are_not_gated():
    doc = metrics_doc()
    report = compare(doc, copy.deepcopy(doc))
    assert report.passed
    assert {r.verdict for r in report.rows} == {"pass"}
    assert not any(r.metric.endswith(("_ci_low", "_ci_high")) for r in report.rows)
    assert len(report.rows) == 14


def test_auroc_drop_beyond_threshold_fails():
    base = metrics_doc()
    report = compare(base, with_value(base, M, "gsmile", "att_auroc", 0.85))  # drop 0.06 > 0.05
    assert not report.passed
    r = row(report, M, "gsmile", "att_auroc")
    assert r.verdict == "fail"
    assert r.delta == pytest.approx(-0.06)
    assert "max_abs_drop" in r.rule and "max_abs_drop" in r.reason
    assert [x.metric for x in report.failures] == ["att_auroc"]


@pytest.mark.parametrize("value", [0.87, 0.86, 0.99])
def test_auroc_drop_within_threshold_or_gain_passes(value):
    base = metrics_doc()
    report = compare(base, with_value(base, M, "gsmile", "att_auroc", value))  # 0.86: drop exactly 0.05
    assert report.passed, report.failures


def test_lower_is_better_rise_fails_and_fall_passes():
    base = metrics_doc()  # fidelity_wmse 0.020, max_rel_drop 0.25
    worse = compare(base, with_value(base, M, "gsmile", "fidelity_wmse", 0.026))  # +30 %
    assert row(worse, M, "gsmile", "fidelity_wmse").verdict == "fail"
    better = compare(base, with_value(base, M, "gsmile", "fidelity_wmse", 0.001))
    assert better.passed
    within = compare(base, with_value(base, M, "gsmile", "fidelity_wmse", 0.024))  # +20 %
    assert within.passed


def test_seconds_and_llm_calls_are_lower_is_better():
    base = metrics_doc()
    assert compare(base, with_value(base, M, "gsmile", "seconds", 1.0)).passed
    assert not compare(base, with_value(base, M, "gsmile", "seconds", 40.0)).passed  # > 3x
    assert not compare(base, with_value(base, M, "gsmile", "llm_calls", 80)).passed  # +25 %


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("att_auroc", "higher"), ("att_whatever", "higher"), ("fidelity_r2", "higher"), ("fidelity_r2_adj", "higher"),
     ("stability_jaccard", "higher"), ("comprehensiveness", "higher"), ("consistency_std", "lower"),
     ("fidelity_wmse", "lower"), ("fidelity_wmae", "lower"), ("fidelity_l1", "lower"), ("fidelity_l2", "lower"),
     ("sufficiency", "lower"), ("seconds", "lower"), ("llm_calls", "lower"), ("mystery", None)],
)
def test_metric_directions(metric, direction):
    assert metric_direction(metric) == direction


def test_missing_metric_method_and_model_fail():
    base = metrics_doc()
    cur = copy.deepcopy(base)
    del cur["results"][M]["rationales"]["gsmile"]["att_f1"]
    del cur["results"][M]["rationales"]["lime"]
    del cur["results"]["oracle:meaning,life"]
    report = compare(base, cur)
    assert not report.passed
    missing = {(r.model, r.method, r.metric) for r in report.rows if r.verdict == "missing"}
    assert (M, "gsmile", "att_f1") in missing
    assert {(M, "lime", m) for m in ("att_auroc", "att_f1", "fidelity_wmse", "seconds", "llm_calls")} <= missing
    assert ("oracle:meaning,life", "gsmile", "att_auroc") in missing
    assert report.counts["missing"] == 1 + 5 + 4


def test_missing_metric_without_rule_still_fails():
    base = metrics_doc(**{f"{M}|rationales|gsmile|mystery": 1.0})
    cur = copy.deepcopy(base)
    del cur["results"][M]["rationales"]["gsmile"]["mystery"]
    assert not compare(base, cur).passed


def test_new_metric_and_model_are_informational():
    base = metrics_doc()
    cur = metrics_doc(**{f"{M}|rationales|gsmile|att_auprc": 0.5, "new/model|rationales|gsmile|att_auroc": 0.1})
    report = compare(base, cur)
    assert report.passed
    new = {(r.model, r.metric) for r in report.rows if r.verdict == "new"}
    assert new == {(M, "att_auprc"), ("new/model", "att_auroc")}


def test_null_current_value_fails_where_baseline_had_one():
    base = metrics_doc()
    report = compare(base, with_value(base, M, "gsmile", "att_auroc", None))
    assert row(report, M, "gsmile", "att_auroc").verdict == "fail"


def test_per_model_override_is_applied_by_pattern():
    base = metrics_doc()
    cur = with_value(base, M, "gsmile", "att_auroc", 0.83)  # drop 0.08
    cur["results"]["oracle:meaning,life"]["rationales"]["gsmile"]["att_auroc"] = 0.92  # drop 0.08
    thresholds = copy.deepcopy(DEFAULT_THRESHOLDS)
    thresholds["overrides"] = [{"model": "local/*", "metrics": {"att_auroc": {"max_abs_drop": 0.10}}}]
    report = compare(base, cur, thresholds)
    assert row(report, M, "gsmile", "att_auroc").verdict == "pass"
    assert row(report, M, "gsmile", "att_auroc").rule == "max_abs_drop=0.1"
    assert row(report, "oracle:meaning,life", "gsmile", "att_auroc").verdict == "fail"


def test_override_by_dataset_and_method_min_value_and_null_removal():
    base = metrics_doc()
    thresholds = {
        "defaults": {"att_auroc": {"max_abs_drop": 0.05}, "seconds": {"max_rel_drop": 0.1}},
        "overrides": [
            {"dataset": "rat*", "method": "lime", "metrics": {"att_auroc": {"min_value": 0.79}}},
            {"model": "local/*", "metrics": {"seconds": None}},
        ],
    }
    t = load_thresholds(thresholds)
    assert t.rule_for(M, "rationales", "lime", "att_auroc") == {"max_abs_drop": 0.05, "min_value": 0.79}
    assert t.rule_for(M, "rationales", "gsmile", "att_auroc") == {"max_abs_drop": 0.05}
    assert t.rule_for(M, "rationales", "gsmile", "seconds") == {}
    assert t.rule_for("oracle:meaning,life", "rationales", "gsmile", "seconds") == {"max_rel_drop": 0.1}
    report = compare(base, with_value(base, M, "lime", "att_auroc", 0.78), t)  # drop 0.02 but below min
    assert row(report, M, "lime", "att_auroc").verdict == "fail"
    slow = with_value(base, M, "gsmile", "seconds", 100.0)
    assert compare(base, slow, t).passed


def test_shipped_yaml_equals_default_constant():
    shipped = yaml.safe_load((ROOT / "configs" / "gate-thresholds.yaml").read_text())
    assert shipped == DEFAULT_THRESHOLDS
    assert shipped["defaults"]["att_auroc"] == {"max_abs_drop": 0.05}


def test_load_metrics_roundtrip(tmp_path):
    p = tmp_path / "metrics.json"
    p.write_text(json.dumps(metrics_doc()))
    assert load_metrics(p) == metrics_doc()
    assert load_metrics(str(p)) == metrics_doc()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"schema_version": 2, "results": {}}', "schema_version"),
        ('{"results": {}}', "schema_version"),
        ('{"schema_version": 1}', "'results'"),
        ('{"schema_version": 1, "results": {"m": {"d": {"x": {"att_auroc": "high"}}}}}', "number or null"),
        ('{"schema_version": 1, "results": {"m": {"d": [1]}}}', "object of methods"),
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
    ],
)
def test_bad_thresholds_are_rejected(doc, fragment):
    with pytest.raises(GateInputError, match=fragment):
        load_thresholds(doc)


def test_declared_direction_allows_drop_rules_on_unknown_metrics():
    t = load_thresholds({"defaults": {"mystery": {"max_abs_drop": 0.1}}, "directions": {"mystery": "lower"}})
    base = metrics_doc(**{f"{M}|rationales|gsmile|mystery": 1.0})
    assert not compare(base, with_value(base, M, "gsmile", "mystery", 1.2), t).passed
    assert compare(base, with_value(base, M, "gsmile", "mystery", 0.5), t).passed


def test_thresholds_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("defaults: [unclosed")
    with pytest.raises(GateInputError, match=r"t\.yaml: invalid YAML"):
        load_thresholds(bad)
    with pytest.raises(GateInputError, match=r"absent\.yaml: thresholds file not found"):
        load_thresholds(tmp_path / "absent.yaml")


def test_report_to_dict_is_json(tmp_path):
    base = metrics_doc()
    d = compare(base, with_value(base, M, "gsmile", "att_auroc", 0.5)).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["passed"] is False and back["verdict"] == "fail"
    assert back["counts"]["fail"] == 1
    assert {"model", "dataset", "method", "metric", "baseline", "current", "delta", "rule", "verdict"} <= set(
        back["rows"][0]
    )


def test_mlflow_source_downloads_metrics_artifact(tmp_path, monkeypatch):
    """mlflow:<id> and runs:/<id> ask mlflow for the run's metrics.json artifact."""
    calls = []
    doc = metrics_doc()

    def download_artifacts(*, run_id, artifact_path, dst_path):
        calls.append((run_id, artifact_path))
        p = Path(dst_path) / artifact_path
        p.write_text(json.dumps(doc))
        return str(p)

    fake = types.ModuleType("mlflow")
    fake.artifacts = types.SimpleNamespace(download_artifacts=download_artifacts)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    assert load_metrics("mlflow:abc123") == doc
    assert load_metrics("runs:/def456") == doc
    assert calls == [("abc123", "metrics.json"), ("def456", "metrics.json")]


def test_mlflow_download_failure_is_input_error(monkeypatch):
    def download_artifacts(**kwargs):
        raise RuntimeError("RESOURCE_DOES_NOT_EXIST: run 'zzz' not found")

    fake = types.ModuleType("mlflow")
    fake.artifacts = types.SimpleNamespace(download_artifacts=download_artifacts)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    with pytest.raises(GateInputError, match="mlflow:zzz: could not download artifact 'metrics.json'"):
        load_metrics("mlflow:zzz")


@pytest.mark.integration
def test_real_mlflow_run_artifact(tmp_path, monkeypatch):
    """A metrics.json logged to a real (local SQLite) MLflow store is read back by run id."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # how the gate finds the store
    client = MlflowClient(uri)  # no global tracking URI: later tests must not inherit this store
    exp = client.create_experiment("gate-test", artifact_location=(tmp_path / "artifacts").as_uri())
    local = tmp_path / "metrics.json"
    local.write_text(json.dumps(metrics_doc()))
    run = client.create_run(exp)
    client.log_artifact(run.info.run_id, str(local))
    client.set_terminated(run.info.run_id)
    local.unlink()
    assert load_metrics(f"mlflow:{run.info.run_id}") == metrics_doc()
    assert load_metrics(f"runs:/{run.info.run_id}") == metrics_doc()
    with pytest.raises(GateInputError, match="could not download artifact 'metrics.json'"):
        load_metrics("mlflow:0123456789abcdef")
