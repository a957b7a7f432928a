"""`xai-bench run --record`: MLflow run, gate verdict and audit record, as the DAG's last tasks,
with the audit head hash kept on the MLflow run so that a deleted last record is detected."""

from __future__ import annotations

import json

import yaml

from tests.benchmark.conftest import tiny_config


def test_run_record_logs_gates_and_audits(tmp_path, monkeypatch, tiny_run):
    from click.testing import CliRunner
    from mlflow import MlflowClient

    from xai_bench.ops.audit import read_records, verify_log
    from xai_bench.cli import main

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("XAI_BENCH_AUDIT_LOG", str(log))
    monkeypatch.setenv("XAI_BENCH_HOME", str(tmp_path))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config().to_dict(), sort_keys=False))
    for name in ("run1", "run2"):
        out = tmp_path / name
        r = CliRunner().invoke(main, ["run", "--config", str(cfg), "--out", str(out), "-q", "--record",
                                      "--baseline", str(tiny_run / "metrics.json")])
        assert r.exit_code == 0, r.output + repr(r.exception)
        gate = json.loads((out / "gate.json").read_text())
        # same configuration and seed as the baseline: same numbers, but 2 prompts per cell are too few
        # to decide (min_prompts 5): "insufficient" is recorded and does not fail the run (exit 0)
        assert gate["verdict"] == "insufficient" and gate["report"]["counts"]["fail"] == 0

    records = read_records(log)
    assert [rec["gate_verdict"] for rec in records] == ["insufficient", "insufficient"]
    tags = MlflowClient(uri).get_run(records[-1]["mlflow_run_id"]).data.tags
    assert tags["xai_bench.audit_head"] == records[-1]["hash"]
    head = tags["xai_bench.audit_head"]

    assert verify_log(log, expected_head=head).ok
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0])  # delete the last record: the chain alone cannot tell ...
    assert verify_log(log).ok
    assert not verify_log(log, expected_head=head).ok  # ... the head kept on the MLflow run can
