"""The DAG files: no import errors, the expected task graph, no work at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

SHARD_STAGES = ["shard.perturb", "shard.query", "shard.distances", "shard.fit"]  # one mapped task group
STAGES = ["prepare_data", *SHARD_STAGES, "aggregate", "log_mlflow", "drift_gate", "audit_record", "enforce_gate"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"xai_benchmark", "xai_data_watch"} <= set(dagbag.dags)


def test_task_graph_has_every_stage_in_order(dagbag):
    dag = dagbag.dags["xai_benchmark"]
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(STAGES) <= set(tasks)
    for up, down in zip(STAGES, STAGES[1:]):
        if down == "audit_record":  # the audit record needs the gate verdict and the MLflow run id
            assert {"drift_gate", "log_mlflow"} <= tasks[down].upstream_task_ids
            continue
        if down == "drift_gate":
            assert "aggregate" in tasks[down].upstream_task_ids
            continue
        assert up in tasks[down].upstream_task_ids, (up, down)


def test_per_prompt_stages_are_one_mapped_task_group(dagbag):
    """The four shard stages are mapped as one group over the shards, so shard i's distances
    depend on shard i's query alone (depth-first), not on every shard's query."""
    from airflow.sdk.definitions.taskgroup import MappedTaskGroup

    dag = dagbag.dags["xai_benchmark"]
    tasks = {t.task_id: t for t in dag.tasks}
    groups = {tasks[t].task_group.group_id for t in SHARD_STAGES}
    assert groups == {"shard"}
    group = tasks["shard.fit"].task_group
    assert isinstance(group, MappedTaskGroup)
    assert list(group.iter_mapped_dependencies()) and tasks["prepare_data"] in set(group.iter_mapped_dependencies())
    # nothing outside the group is mapped, and nothing inside is expanded on its own
    assert all(getattr(t, "expand_input", None) is None or t.task_group is group for t in dag.tasks)
    assert {t.task_id for t in group} == set(SHARD_STAGES)


def test_schedule_params_and_defaults(dagbag):
    dag = dagbag.dags["xai_benchmark"]
    assert dag.catchup is False
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert {"config", "out_root", "baseline", "thresholds", "fail_on_regression"} <= set(dag.params)
    assert dag.default_args["retries"] >= 1


def test_dag_file_does_no_work_at_import():
    # importing the DAG file must not import xai_bench or any model library
    code = ("import sys, runpy; runpy.run_path(sys.argv[1]); "
            "bad = [m for m in ('xai_bench', 'litellm', 'torch', 'mlflow', 'sentence_transformers') if m in sys.modules]; "
            "print('HEAVY=' + ','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "dags" / "xai_benchmark.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("HEAVY=")]
    assert line == ["HEAVY="], out.stdout
