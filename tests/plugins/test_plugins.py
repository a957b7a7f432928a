"""The Airflow plugins in plugins/: the litellm connection hook, the MLflow run link, registration."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import PLUGINS, REPO

SECRET = "sk-live0123456789abcdefSECRET"
HEADER_SECRET = "Bearer hdr-0123456789-SECRET"
VENV_BIN = Path(sys.executable).parent


def _conn(**fields):
    from airflow.sdk import Connection

    fields.setdefault("conn_id", "xai_bench_llm")
    fields.setdefault("conn_type", "litellm")
    return Connection(**fields)


def _hook(conn):
    from xai_bench_hooks import LiteLLMConnectionHook

    return LiteLLMConnectionHook(conn.conn_id, connection=conn)


# ---------------------------------------------------------------------------- the hook


def test_hook_turns_a_connection_into_litellm_kwargs():
    conn = _conn(password=SECRET, host="https://api.example.com/v1", login="org-42",
                 extra=json.dumps({"headers": {"Authorization": HEADER_SECRET, "X-Team": "xai"},
                                   "model": "openai/gpt-4o-mini", "timeout": 30, "api_version": "2024-10-21"}))
    kw = _hook(conn).get_conn()
    assert dict(kw) == {
        "api_key": SECRET,
        "api_base": "https://api.example.com/v1",
        "organization": "org-42",
        "extra_headers": {"Authorization": HEADER_SECRET, "X-Team": "xai"},
        "timeout": 30,
        "api_version": "2024-10-21",
    }
    assert kw.model == "openai/gpt-4o-mini"


@pytest.mark.parametrize(
    ("host", "port", "schema", "extra", "expected"),
    [
        ("api.example.com", None, "v1", {}, "https://api.example.com/v1"),
        ("api.example.com", 8443, "/v1/", {}, "https://api.example.com:8443/v1"),
        ("127.0.0.1", 8080, "v1", {}, "http://127.0.0.1:8080/v1"),
        ("llm.internal", 8000, None, {"scheme": "http"}, "http://llm.internal:8000"),
        ("http://127.0.0.1/v1", 9000, None, {}, "http://127.0.0.1:9000/v1"),
        ("https://api.example.com:8443/v1", 8443, None, {}, "https://api.example.com:8443/v1"),
        (None, None, None, {"api_base": "http://proxy:4000"}, "http://proxy:4000"),
    ],
)
def test_api_base_forms(host, port, schema, extra, expected):
    conn = _conn(host=host, port=port, schema=schema, extra=json.dumps(extra) if extra else None)
    assert _hook(conn).get_conn()["api_base"] == expected


def test_connection_from_an_environment_variable_json(monkeypatch):
    from xai_bench_hooks import LiteLLMConnectionHook

    monkeypatch.setenv("AIRFLOW_CONN_XAI_BENCH_LLM", json.dumps({
        "conn_type": "litellm", "password": SECRET, "host": "https://api.example.com/v1",
        "extra": {"model": "openai/gpt-4o-mini", "max_retries": 2}}))
    kw = LiteLLMConnectionHook().get_conn()  # default conn id: xai_bench_llm
    assert dict(kw) == {"api_key": SECRET, "api_base": "https://api.example.com/v1", "max_retries": 2}
    assert kw.model == "openai/gpt-4o-mini"


def test_connection_from_an_environment_variable_uri(monkeypatch):
    from xai_bench_hooks import LiteLLMConnectionHook

    monkeypatch.setenv("AIRFLOW_CONN_LLM_URI", f"litellm://org-1:{SECRET}@api.example.com:8443/v1?model=openai%2Fgpt-4o")
    kw = LiteLLMConnectionHook("llm_uri").get_conn()
    assert dict(kw) == {"api_key": SECRET, "organization": "org-1", "api_base": "https://api.example.com:8443/v1"}
    assert kw.model == "openai/gpt-4o"


def test_the_secret_never_appears_in_repr_str_or_logs(capfd):
    conn = _conn(password=SECRET, host="https://user:pw-in-url@api.example.com/v1",
                 extra=json.dumps({"headers": {"Authorization": HEADER_SECRET, "X-Team": "xai"}}))
    hook = _hook(conn)
    kw = hook.get_conn()  # logs its result through Airflow's (structlog) task logger
    stream = io.StringIO()
    std = logging.getLogger("xai_bench.test.plugins")
    std.addHandler(logging.StreamHandler(stream))
    std.warning("kwargs %s / %r", kw, kw)  # a task that logs the kwargs by mistake
    captured = capfd.readouterr()
    logs = captured.out + captured.err + stream.getvalue()
    assert "litellm credentials from connection 'xai_bench_llm'" in logs and "kwargs LiteLLMKwargs(" in logs
    shown = "\n".join([repr(hook), str(hook), repr(kw), str(kw), f"{kw}", logs])
    for secret in (SECRET, HEADER_SECRET, "pw-in-url"):
        assert secret not in shown
    assert "X-Team" in repr(kw) and "xai" in repr(kw)  # only the secrets are hidden
    assert kw["api_key"] == SECRET and {**kw}["extra_headers"]["Authorization"] == HEADER_SECRET
    # registered with Airflow's masker, so task logs redact it wherever it appears
    from airflow.sdk.log import redact

    assert SECRET not in str(redact(f"calling with {SECRET}"))
    assert HEADER_SECRET not in str(redact(f"header {HEADER_SECRET}"))


def test_kwargs_survive_pickling():
    import pickle

    kw = _hook(_conn(password=SECRET, extra=json.dumps({"model": "m"}))).get_conn()
    back = pickle.loads(pickle.dumps(kw))
    assert dict(back) == dict(kw) and back.model == "m" and SECRET not in repr(back)


def test_bad_extras_are_refused_with_the_allowed_keys():
    from xai_bench_hooks import litellm_kwargs_from_connection

    with pytest.raises(ValueError, match=r"unknown 'extra' keys \['api_keyy'\]. Allowed: \["):
        litellm_kwargs_from_connection(_conn(extra=json.dumps({"api_keyy": "x"})))
    with pytest.raises(ValueError, match="'extra' must be a JSON object"):
        litellm_kwargs_from_connection(_conn(extra="[1, 2]"))
    with pytest.raises(ValueError, match="'extra.headers' must map header names to strings"):
        litellm_kwargs_from_connection(_conn(extra=json.dumps({"headers": {"X": 1}})))


def test_test_connection_needs_no_network():
    assert _hook(_conn(password=SECRET))._given is not None
    ok, msg = _hook(_conn(password=SECRET)).test_connection()
    assert ok and SECRET not in msg
    ok, msg = _hook(_conn()).test_connection()
    assert not ok and "neither a password" in msg


def test_litellm_accepts_the_kwargs():
    from xai_bench.llm.models._litellm import set_offline_env

    set_offline_env()
    import litellm

    kw = _hook(_conn(password=SECRET, host="https://api.example.com/v1",
                     extra=json.dumps({"headers": {"X-Team": "xai"}, "timeout": 5, "max_retries": 0}))).get_conn()
    out = litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                             mock_response="hello", **kw)
    assert out.choices[0].message.content == "hello"


def test_the_hook_does_no_work_at_construction(monkeypatch):
    from xai_bench_hooks import LiteLLMConnectionHook

    monkeypatch.delenv("AIRFLOW_CONN_NOT_DEFINED_ANYWHERE", raising=False)
    hook = LiteLLMConnectionHook("not_defined_anywhere")  # no lookup yet
    assert repr(hook) == "LiteLLMConnectionHook(llm_conn_id='not_defined_anywhere')"


# ---------------------------------------------------------------------------- the link


def test_choose_run_url_prefers_the_task_instance_then_the_dag_run():
    from xai_bench_links import choose_run_url

    rows = [("log_mlflow", -1, '"https://mlflow.example/#/experiments/1/runs/a"'),
            ("query", 3, "https://mlflow.example/#/experiments/1/runs/q3"),
            ("query", 1, "https://mlflow.example/#/experiments/1/runs/q1"),
            ("evil", -1, "javascript:alert(1)")]
    assert choose_run_url(rows, "query", 1).endswith("/q1")
    assert choose_run_url(rows, "query", 7).endswith("/q3")
    assert choose_run_url(rows, "gate") == "https://mlflow.example/#/experiments/1/runs/a"
    assert choose_run_url([("evil", -1, "javascript:alert(1)")], "evil") == ""
    assert choose_run_url([("t", -1, {"url": "https://x"})], "t") == ""
    assert choose_run_url([("t", -1, b'"http://127.0.0.1:5000/#/x"')], "t") == "http://127.0.0.1:5000/#/x"
    assert choose_run_url([], "t") == ""


def test_link_returns_the_url_from_xcom(monkeypatch):
    from airflow.sdk import BaseOperatorLink
    from xai_bench_links import XCOM_KEY, MLflowRunLink

    class Key:
        dag_id, task_id, run_id, map_index, try_number = "xai_benchmark", "gate", "manual__1", -1, 1

    seen = {}

    def rows(ti_key):
        seen["run_id"] = ti_key.run_id
        return [("log_mlflow", -1, "http://127.0.0.1:5000/#/experiments/1/runs/abc")]

    monkeypatch.setattr(MLflowRunLink, "_rows", staticmethod(rows))
    link = MLflowRunLink()
    assert isinstance(link, BaseOperatorLink) and link.name == "MLflow run" and XCOM_KEY == "mlflow_run_url"
    assert link.get_link(None, ti_key=Key()) == "http://127.0.0.1:5000/#/experiments/1/runs/abc"
    assert seen["run_id"] == "manual__1"

    def broken(ti_key):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(MLflowRunLink, "_rows", staticmethod(broken))
    assert link.get_link(None, ti_key=Key()) == ""  # the UI renders a disabled button, not an error


# ---------------------------------------------------------------------------- registration


def test_plugin_module_registers_the_link():
    from airflow.plugins_manager import AirflowPlugin

    import xai_bench_plugin
    from xai_bench_links import MLflowRunLink

    plugin = xai_bench_plugin.XaiBenchPlugin
    assert issubclass(plugin, AirflowPlugin) and plugin.name == "xai_bench"
    assert [type(x).__name__ for x in plugin.global_operator_extra_links] == [MLflowRunLink.__name__]
    assert (PLUGINS / ".airflowignore").read_text().split() == ["xai_bench_hooks.py", "xai_bench_links.py"]


def test_xai_bench_has_no_airflow_import():
    """Plugins import xai_bench, never the other way round."""
    for path in (REPO / "xai_bench").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import airflow" not in text and "from airflow" not in text, path


def _airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS), AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
               PYTHONPATH=str(REPO))
    return env


def test_airflow_loads_the_plugin(tmp_path):
    out = subprocess.run([str(VENV_BIN / "airflow"), "plugins", "--output", "json"], env=_airflow_env(tmp_path),
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    plugins = json.loads(out.stdout[out.stdout.index("[") :])
    ours = [p for p in plugins if p["name"] == "xai_bench"]
    assert len(ours) == 1, plugins
    assert ours[0]["global_operator_extra_links"] == ["<xai_bench_links.MLflowRunLink object>"]
    assert "Failed to import plugin" not in out.stderr


PROBE_DAG = '''
import pendulum
from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def link_probe():
    @task
    def log_mlflow():
        get_current_context()["ti"].xcom_push(key="mlflow_run_url", value="http://127.0.0.1:5000/#/experiments/1/runs/abc")

    @task
    def gate():
        from xai_bench_hooks import LiteLLMConnectionHook

        assert LiteLLMConnectionHook("llm_probe").get_conn()["api_key"].startswith("sk-")

    log_mlflow() >> gate()


link_probe()
'''

SERVER_SIDE = '''
from airflow.models.serialized_dag import SerializedDagModel
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session

with create_session() as s:
    dag = SerializedDagModel.get("link_probe", session=s).dag
    for task_id in ("log_mlflow", "gate"):
        op = dag.get_task(task_id)
        ti = s.query(TaskInstance).filter_by(dag_id="link_probe", task_id=task_id).one()
        print(task_id, ti.state, op.extra_links, op.get_extra_links(ti, "MLflow run"))
'''


@pytest.mark.integration
def test_link_in_a_real_dag_run(tmp_path):
    """A DAG run on a SQLite metadata database; the API server's own code path resolves the link."""
    env = _airflow_env(tmp_path)
    env["AIRFLOW_CONN_LLM_PROBE"] = json.dumps({"conn_type": "litellm", "password": SECRET})
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "link_probe.py").write_text(textwrap.dedent(PROBE_DAG))
    airflow = str(VENV_BIN / "airflow")

    def run(*cmd):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        return out

    run(airflow, "db", "migrate")
    run(airflow, "dags", "test", "link_probe", "2026-01-02")
    out = run(sys.executable, "-c", SERVER_SIDE)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(("log_mlflow ", "gate "))]
    url = "http://127.0.0.1:5000/#/experiments/1/runs/abc"
    assert lines == [f"log_mlflow success ['MLflow run'] {url}", f"gate success ['MLflow run'] {url}"]
