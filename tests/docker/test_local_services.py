"""The compose deployment's services without containers (docker/local-services.sh), end to end.

Starts the MLflow server and the Airflow api-server, scheduler, dag-processor and triggerer,
triggers a DAG through the scheduler (LocalExecutor) that logs a benchmark results folder to the
MLflow server over HTTP and pushes the run's address, then reads the task's "MLflow run"
extra link through the API server's REST API. About 2 minutes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "local-services.sh"
VENV_BIN = Path(sys.executable).parent

PROBE_DAG = '''
import pendulum
from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def services_probe():
    @task
    def log_mlflow():
        import json, os
        from pathlib import Path
        from xai_bench.ops.tracking import log_benchmark_run, run_url

        out = Path(os.environ["XAI_BENCH_HOME"]) / "runs" / "probe"
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({"schema_version": 1, "run": {"run_id": "probe", "seed": 0},
            "results": {"oracle/a": {"paper": {"gsmile": {"att_auroc": 0.9}}}}}))
        (out / "report.md").write_text("# probe")
        run_id = log_benchmark_run(out, experiment="services-probe")  # MLFLOW_TRACKING_URI: the server
        get_current_context()["ti"].xcom_push(key="mlflow_run_url", value=run_url(run_id))
        return run_id

    @task
    def gate(mlflow_run_id):
        from xai_bench.ops.tracking import read_run_metrics

        assert read_run_metrics(mlflow_run_id)["results"]["oracle/a"]["paper"]["gsmile"]["att_auroc"] == 0.9

    gate(log_mlflow())


services_probe()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(1800)  # services up (600 s) plus a DAG run
def test_local_services_run_a_dag_that_logs_to_mlflow(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "services_probe.py").write_text(textwrap.dedent(PROBE_DAG))
    airflow_port, mlflow_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow_home"), XAI_BENCH_HOME=str(tmp_path / "home"),
               AIRFLOW_PORT=str(airflow_port), MLFLOW_PORT=str(mlflow_port), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               VENV=str(VENV_BIN.parent), PATH=f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}")
    (tmp_path / "home").mkdir()

    def sh(*cmd, timeout=300, check=True):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
        if check:
            assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        return out

    try:
        up = sh("bash", str(SCRIPT), "up", timeout=600)
        assert f"MLflow UI   http://127.0.0.1:{mlflow_port}" in up.stdout
        secrets = dict(line.split("=", 1) for line in
                       (tmp_path / "airflow_home" / "services" / "secrets.env").read_text().split())
        assert oct((tmp_path / "airflow_home" / "services" / "secrets.env").stat().st_mode)[-3:] == "600"
        env.update(secrets)
        airflow = str(VENV_BIN / "airflow")
        deadline = time.monotonic() + 120
        while "services_probe" not in sh(airflow, "dags", "list", check=False).stdout:
            assert time.monotonic() < deadline, "the dag-processor did not parse the probe DAG"
            time.sleep(3)
        sh(airflow, "dags", "unpause", "services_probe")
        sh(airflow, "dags", "trigger", "services_probe")

        base = f"http://127.0.0.1:{airflow_port}"
        token_req = urllib.request.Request(
            f"{base}/auth/token", headers={"Content-Type": "application/json"},
            data=json.dumps({"username": "admin", "password": secrets["AIRFLOW_ADMIN_PASSWORD"]}).encode())
        headers = {"Authorization": "Bearer " + json.load(urllib.request.urlopen(token_req, timeout=10))["access_token"]}

        def get(path):
            return json.load(urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=10))

        deadline = time.monotonic() + 240
        while True:
            runs = get("/api/v2/dags/services_probe/dagRuns")["dag_runs"]
            state = runs[0]["state"] if runs else None
            if state in ("success", "failed"):
                break
            assert time.monotonic() < deadline, f"DAG run still {state} after 240 s"
            time.sleep(3)
        assert state == "success", (tmp_path / "airflow_home" / "services" / "scheduler.log").read_text()[-3000:]
        run_id = urllib.parse.quote(runs[0]["dag_run_id"])
        links = get(f"/api/v2/dags/services_probe/dagRuns/{run_id}/taskInstances/gate/links")["extra_links"]
        url = links["MLflow run"]
        assert url.startswith(f"http://127.0.0.1:{mlflow_port}/#/experiments/")

        from mlflow import MlflowClient

        mlflow_run = url.rsplit("/", 1)[1]
        run = MlflowClient(f"http://127.0.0.1:{mlflow_port}").get_run(mlflow_run)
        assert run.info.status == "FINISHED" and run.data.tags["xai_bench.run_id"] == "probe"
        assert (tmp_path / "home" / "mlflow" / "mlflow.db").is_file()  # the project-local store, served
    finally:
        sh("bash", str(SCRIPT), "down", timeout=180, check=False)
    status = sh("bash", str(SCRIPT), "status").stdout
    assert "running" not in status
