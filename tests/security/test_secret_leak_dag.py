"""Issue 12, item 2, the DAG part: the xai_benchmark DAG, run for real by scripts/run_dag.sh with
planted credentials in the environment and in the Airflow Connection it is told to use
(``llm_conn_id``); every byte under the Airflow home (task logs, metadata database), the run
folder, the MLflow store and the audit log is scanned for each credential. Minutes: slow."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import REPO

from .conftest import CONN_ENV, CONN_ID, CONN_VALUE, CREDENTIALS, ENV_KEYS, PROMPT_KEY, leaktest_dataset, scan

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(1800)
def test_dag_run_writes_no_credential(tmp_path):
    data = leaktest_dataset(tmp_path / "leaktest.jsonl")
    cfg = tmp_path / "leak.yaml"
    cfg.write_text(f"name: leak\nseed: 0\nmodels: ['oracle:@rationale']\n"
                   f"datasets: [{{name: leaktest, path: {data}}}]\nmethods: [gsmile, lime]\n"
                   "explain: {n_perturbations: 16, pvalue_permutations: 0}\n"
                   "metrics: {stability_changes: [append], consistency_runs: 2, fidelity_heldout: 8, bootstrap: 100}\n"
                   "cache: run\nheatmap_pngs: 1\n")
    roots = {name: tmp_path / name for name in ("airflow", "mlflow", "runs", "audit", "cache")}
    for p in roots.values():
        p.mkdir()
    env = {**os.environ, **ENV_KEYS, CONN_ENV: CONN_VALUE,
           "AIRFLOW_HOME": str(roots["airflow"]), "MLFLOW_TRACKING_URI": f"sqlite:///{roots['mlflow']}/mlflow.db",
           "XAI_BENCH_AUDIT_LOG": str(roots["audit"] / "audit.jsonl"), "XAI_BENCH_CACHE_DIR": str(roots["cache"]),
           "XAI_BENCH_HOME": str(REPO), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    conf = {"config": str(cfg), "out_root": str(roots["runs"]), "baseline": None, "llm_conn_id": CONN_ID}
    r = subprocess.run(["bash", str(REPO / "scripts" / "run_dag.sh"), "-c", json.dumps(conf)], env=env,
                       capture_output=True, text=True, timeout=1700)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert any(roots["airflow"].rglob("*.log")) or any(roots["airflow"].rglob("*.db")), "no Airflow files to scan"
    assert "litellm credentials from connection" in r.stdout + r.stderr + "".join(
        f.read_text(errors="replace") for f in roots["airflow"].rglob("*.log")), "the DAG did not use the Connection"
    assert scan(*roots.values()) == {}, "credentials written to files"
    assert not [what for what, key in CREDENTIALS.items() if key in r.stdout + r.stderr]
    assert scan(roots["runs"], needles={"prompt": PROMPT_KEY}), "the prompt is data and must be kept"
