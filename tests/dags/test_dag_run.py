"""The README's main command, for real: scripts/run_dag.sh runs `airflow dags test xai_benchmark`
on a SQLite Airflow home and a SQLite MLflow store; then we read MLflow back."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _run_dag(tmp_path, conf: dict, timeout: int = 3000, **extra_env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """scripts/run_dag.sh with its own Airflow home, MLflow store and audit log under ``tmp_path``."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow/mlflow.db",
        "XAI_BENCH_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "XAI_BENCH_HOME": str(REPO),
        **extra_env,
    })
    (tmp_path / "mlflow").mkdir()
    conf = {"out_root": str(tmp_path / "runs"), **conf}
    r = subprocess.run(["bash", str(REPO / "scripts" / "run_dag.sh"), "-c", json.dumps(conf)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r, env


def _check(tmp_path, r, env, verdict: str):
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "==> done" in r.stdout
    assert "XCom not found" not in r.stdout + r.stderr  # no error lines in a run that succeeded
    # every task instance succeeded
    states = subprocess.run(
        [str(REPO / ".venv" / "bin" / "airflow"), "dags", "list-runs", "xai_benchmark", "-o", "json"],
        env={**env, "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
        capture_output=True, text=True, timeout=300)
    listing = [ln for ln in states.stdout.splitlines() if ln.startswith("[")]  # warnings may precede it
    runs = json.loads(listing[-1])
    assert runs and all(run["state"] == "success" for run in runs), runs
    run_dirs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(run_dirs) == 1
    run_dir = run_dirs[0]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert json.loads((run_dir / "gate.json").read_text())["verdict"] == verdict

    # MLflow holds the run: parent + nested runs, metrics, heatmap artifacts
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("xai-bench")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    n_combos = sum(len(methods) for per in metrics["results"].values() for methods in per.values())
    assert len(children) == n_combos
    assert any("att_auroc" in c.data.metrics for c in children)
    artifacts = []
    stack = [""]
    while stack:
        for f in client.list_artifacts(parents[0].info.run_id, stack.pop() or None):
            (stack.append(f.path) if f.is_dir else artifacts.append(f.path))
    assert any(a.endswith(".png") or a.endswith(".html") for a in artifacts if "heatmap" in a), artifacts
    assert any(a.endswith("metrics.json") for a in artifacts)
    # the audit record of this run verifies
    v = subprocess.run([str(REPO / ".venv" / "bin" / "xai-bench"), "audit", "verify", env["XAI_BENCH_AUDIT_LOG"]],
                       capture_output=True, text=True, timeout=300)
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.timeout(1500)  # airflow db migrate + the whole DAG on 2 shared cores
def test_dag_run_on_control_models(tmp_path):
    """The whole DAG on the oracle control model (minutes, not tens of minutes)."""
    r, env = _run_dag(tmp_path, {"config": str(REPO / "configs" / "oracle-smoke.yaml"), "baseline": None})
    _check(tmp_path, r, env, "no-baseline")


@pytest.mark.slow
@pytest.mark.timeout(3600)  # run_dag.sh is given 3000 s
def test_main_command_default_config(tmp_path):
    """Exactly what `make run` runs: the default configuration on the embedded SmolLM2 model,
    gated against the committed baseline."""
    r, env = _run_dag(tmp_path, {})
    _check(tmp_path, r, env, "pass")  # gated against configs/baseline/metrics.json
