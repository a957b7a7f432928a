"""
### xai_benchmark

Re-benchmark token-level explanations (gSMILE, LIME, Bay-LIME) of the configured LLMs.

Stages, each a task calling ``xai_bench.benchmark.stages``: prepare + validate data
(Great Expectations) -> one mapped task group per model x prompt shard (perturb -> query
the models -> distances -> surrogate fits and per-prompt metrics) -> aggregate -> MLflow ->
drift gate -> report.html (with the verdict, logged to MLflow with the per-prompt table)
and the trend page of the last runs -> drift alert -> audit record -> enforce the gate.
The shard group is mapped as a whole, so a shard that has finished querying goes on to its
distances and fit while other shards still query (depth-first), instead of every shard
waiting for the slowest one at each stage.

Intermediate results are files in a run folder (XCom carries paths and shard ids only);
every task is idempotent. Runs weekly and whenever the prepared data set changes
(the ``xai_data`` asset, emitted by the ``xai_data_watch`` DAG after a new DVC version).
Params: ``config`` (benchmark YAML), ``out_root``, ``baseline`` (a run folder, or its
metrics.json with per_prompt.csv beside it, or ``mlflow:<run_id>``), ``thresholds``,
``fail_on_regression`` (only the gate verdict "fail" fails the run; "insufficient", too few
prompts to decide, is recorded in gate.json, the audit record and the MLflow tags),
``llm_conn_id`` (an Airflow Connection whose password/host become litellm's
api_key/api_base for hosted models), ``trend_runs`` (runs drawn by the trend page),
``alert_conn_id`` / ``alert_to`` / ``warn_share`` (drift alerts: an SMTP Connection, see
``plugins/xai_bench_notify.py``; a failing gate, or a passing metric worse than ``warn_share``
of its tolerance, mails the run, the rows and the report's links; no Connection, no mail).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task, task_group
from xai_bench_project import PROJECT, XAI_DATA



def _run_dir(params: dict, run_id: str) -> str:
    """The run folder of this DAG run: every task derives it, so a retry writes to the same place."""
    from xai_bench.benchmark.rundir import slug

    return os.path.join(params["out_root"], slug(run_id))


@dag(
    dag_id="xai_benchmark",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"), assets=[XAI_DATA]),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["xai-bench", "benchmark"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "config": Param(f"{PROJECT}/configs/dag-default.yaml", type="string", description="Benchmark YAML"),
        "out_root": Param(f"{PROJECT}/runs", type="string", description="Run folders are created here"),
        "baseline": Param(f"{PROJECT}/configs/baseline/metrics.json", type=["null", "string"],
                          description="run folder, metrics.json (per_prompt.csv beside it) or mlflow:<run_id> to gate against"),
        "thresholds": Param(f"{PROJECT}/configs/gate-thresholds.yaml", type=["null", "string"]),
        "fail_on_regression": Param(True, type="boolean"),
        "llm_conn_id": Param(None, type=["null", "string"],
                             description="Airflow Connection holding the API key / base URL of a hosted model"),
        "trend_runs": Param(10, type="integer", minimum=1, description="Runs drawn by the trend page"),
        "alert_conn_id": Param("xai_bench_alerts", type=["null", "string"],
                               description="SMTP Connection for drift alerts (none configured: no alert is sent)"),
        "alert_to": Param(None, type=["null", "string"], description="Alert recipients [the Connection's extra.to]"),
        "warn_share": Param(0.5, type="number", exclusiveMinimum=0, maximum=1,
                            description="A passing metric worse than this share of its tolerance is a warning"),
    },
)
def xai_benchmark():
    @task
    def prepare_data(params=None, run_id=None) -> list[str]:
        """Load and validate every dataset (GX); write the shard files; return the shard ids."""
        from xai_bench.benchmark.config import load_benchmark_config
        from xai_bench.benchmark.stages import prepare

        return prepare(load_benchmark_config(params["config"]), _run_dir(params, run_id))

    @task(max_active_tis_per_dagrun=4)
    def perturb(shard_id: str, params=None, run_id=None) -> str:
        from xai_bench.benchmark.stages import perturb as stage

        stage(_run_dir(params, run_id), shard_id)
        return shard_id

    @task(max_active_tis_per_dagrun=4)
    def query(shard_id: str, params=None, run_id=None) -> str:
        from xai_bench.benchmark.stages import query as stage

        if params.get("llm_conn_id"):  # API keys come from Airflow's secret store, never from params
            import litellm
            from xai_bench_hooks import LiteLLMConnectionHook

            creds = LiteLLMConnectionHook(params["llm_conn_id"]).get_conn()
            litellm.api_key = creds.get("api_key", litellm.api_key)
            litellm.api_base = creds.get("api_base", litellm.api_base)
            if creds.get("extra_headers"):
                litellm.headers = dict(creds["extra_headers"])

        stage(_run_dir(params, run_id), shard_id)
        return shard_id

    @task
    def distances(shard_id: str, params=None, run_id=None) -> str:
        from xai_bench.benchmark.stages import distances as stage

        stage(_run_dir(params, run_id), shard_id)
        return shard_id

    @task
    def fit(shard_id: str, params=None, run_id=None) -> str:
        from xai_bench.benchmark.stages import fit as stage

        stage(_run_dir(params, run_id), shard_id)
        return shard_id

    @task
    def aggregate(done: list, params=None, run_id=None) -> str:
        """metrics.json, per-prompt table, heatmaps and report.md; returns the run folder."""
        from xai_bench.benchmark.stages import aggregate as stage

        # every shard finished; a count, not list(done): iterating asks Airflow for one item
        # past the end, which it logs as an error ("XCom not found") in every run
        len(done)
        run_dir = _run_dir(params, run_id)
        stage(run_dir)
        return run_dir

    @task
    def log_mlflow(run_dir: str, ti=None) -> str:
        from xai_bench.ops.pipeline import record_mlflow

        from xai_bench.ops.tracking import run_url

        run_id = record_mlflow(run_dir)
        ti.xcom_push(key="mlflow_run_url", value=run_url(run_id))  # shown as a link by the xai_bench plugin
        return run_id

    @task
    def drift_gate(run_dir: str, params=None) -> dict:
        from xai_bench.ops.pipeline import run_gate

        return run_gate(run_dir, params["baseline"], params["thresholds"])

    @task
    def publish_report(run_dir: str, gate: dict, mlflow_run_id: str) -> str:
        """report.html with the gate verdict, logged to the MLflow run with the per-prompt table."""
        from xai_bench.ops.report_html import publish_report as publish

        return str(publish(run_dir, mlflow_run_id))

    @task
    def trend(run_dir: str, mlflow_run_id: str, params=None) -> str:
        """trend.html and trend.png of the last runs, in the run folder and on its MLflow run."""
        from xai_bench.ops.trend import publish_trend

        return str(publish_trend(run_dir, mlflow_run_id, last=params["trend_runs"], baseline=params["baseline"],
                                 thresholds=params["thresholds"], warn_share=params["warn_share"]).html)

    @task
    def notify_drift(gate: dict, report: str, mlflow_run_id: str, params=None, run_id=None) -> str:
        """Mail a failing gate (or a metric past the warning share) through the SMTP Connection."""
        from airflow.sdk import get_current_context
        from xai_bench.ops.drift_alert import drift_alert
        from xai_bench.ops.tracking import run_url
        from xai_bench_notify import send_drift_alert

        alert = drift_alert(gate, run_id=run_id, report_link=[report, run_url(mlflow_run_id)],
                            warn_share=params["warn_share"])
        if alert is None or not params.get("alert_conn_id"):
            return "no alert" if alert is None else f"{alert.level}: not sent (no alert_conn_id)"
        sent = send_drift_alert(alert, conn_id=params["alert_conn_id"], context=get_current_context(),
                                to=params.get("alert_to"))
        return f"{alert.level}: " + (f"sent to {sent}" if sent else f"not sent (no Connection {params['alert_conn_id']!r})")

    @task
    def audit_record(run_dir: str, gate: dict, mlflow_run_id: str) -> str:
        from xai_bench.ops.pipeline import record_audit

        return record_audit(run_dir, gate=gate, mlflow_run_id=mlflow_run_id)["hash"]

    @task
    def enforce_gate(gate: dict, audit_hash: str, params=None) -> str:
        """Fail the DAG run on the verdict "fail" only; "insufficient" and "no-baseline" are recorded, not failures."""
        if params["fail_on_regression"] and gate.get("verdict") == "fail":
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"Interpretability drift: the gate failed (audit record {audit_hash[:12]}).")
        return gate.get("verdict", "unknown")

    @task_group
    def shard(shard_id: str):
        """One model x prompt shard from perturbations to per-prompt metrics."""
        return fit(distances(query(perturb(shard_id))))

    shards = prepare_data()
    results = aggregate(shard.expand(shard_id=shards))
    mlflow_id = log_mlflow(results)
    gate = drift_gate(results)
    report = publish_report(results, gate, mlflow_id)
    pages = trend(results, mlflow_id)
    alert = notify_drift(gate, report, mlflow_id)
    audit = audit_record(results, gate, mlflow_id)
    gate >> pages  # the trend is drawn after the gate
    [pages, alert] >> enforce_gate(gate, audit)  # the alert goes out before a failing gate fails the run


xai_benchmark()

if __name__ == "__main__":
    xai_benchmark().test()
