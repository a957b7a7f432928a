"""MLflow logging of a benchmark results folder (xai_bench.ops.tracking).

One module-scoped SQLite store takes the fake results folder once (creating the tables takes
about 12 s); the tests read it back. The ``integration`` test starts a real ``mlflow server``
on 127.0.0.1 and logs to it over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.ops.tracking import (
    TrackingError,
    default_artifact_location,
    default_tracking_uri,
    flatten_config,
    log_benchmark_run,
    read_run_metrics,
    run_url,
    sanitize_name,
    tag_run,
    tracking_scope,
)

SECRET = "sk-test0123456789abcdefXYZ"  # looks like an OpenAI key: must never reach MLflow
MODELS = ("local/smollm2-135m", "openai/gpt-4o-mini")
METHODS = ("gsmile", "lime")
WEIGHTS = "ab" * 32


def _metrics_doc(run_id: str = "run-1", bump: float = 0.0) -> dict:
    results = {}
    for i, model in enumerate(MODELS):
        results[model] = {"paper": {}}
        for j, method in enumerate(METHODS):
            results[model]["paper"][method] = {
                "att_auroc": 0.7 + 0.1 * i + 0.01 * j + bump,
                "att_auroc_ci_low": 0.6,
                "fidelity_r2": 0.5,
                "llm_calls": 120,
                "sufficiency": None,  # null metrics are skipped, and named in a tag
                "odd name (%)": 3.5,  # needs sanitising
            }
    return {
        "schema_version": 1,
        "run": {"run_id": run_id, "created": "2026-11-22T10:00:00Z", "config_hash": "c0ffee", "seed": 7,
                "git_commit": "0123456789abcdef0123456789abcdef01234567"},
        "results": results,
    }


def make_results(out: Path, *, run_id: str = "run-1", bump: float = 0.0) -> Path:
    """A small results folder in the benchmark's contract."""
    (out / "heatmaps" / "paper").mkdir(parents=True, exist_ok=True)
    (out / "explanations" / "paper").mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(_metrics_doc(run_id, bump), indent=2))
    (out / "per_prompt.csv").write_text("model,dataset,method,id,att_auroc\nlocal/smollm2-135m,paper,gsmile,p/1,0.8\n")
    (out / "report.md").write_text(f"# Report\n\nA leaked key {SECRET} in a report must be redacted.\n")
    (out / "config.yaml").write_text(
        "seed: 7\n"
        "models: [local/smollm2-135m, openai/gpt-4o-mini]\n"
        "explain:\n  n_samples: 64\n  kernel_width: 0.25\n  methods: [gsmile, lime]\n"
        f"providers:\n  openai:\n    api_key: {SECRET}\n    api_base: https://api.example.com/v1\n"
        f"notes: '{'x' * 7000}'\n"
        "weird key!: 1\n"
    )
    (out / "heatmaps" / "paper" / "p1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
    (out / "heatmaps" / "paper" / "p1.html").write_text("<html><body>heat</body></html>")
    (out / "explanations" / "paper" / "p1.json").write_text(json.dumps({"id": "paper/p1", "weights": [0.1, 0.9]}))
    return out


def make_dataset(path: Path) -> Path:
    rows = [{"id": f"paper/p{i}", "dataset": "paper", "words": ["What", "is", "life?"], "rationale": [0, 0, 1],
             "label": None, "provenance": {"source": "test"}} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(autouse=True)
def _no_ambient_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Log the fake results folder once into a fresh SQLite store."""
    root = tmp_path_factory.mktemp("mlflow-sqlite")
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        uri = f"sqlite:///{root / 'db' / 'mlflow.db'}"
        results = make_results(root / "OUT")
        data = make_dataset(root / "paper.jsonl")
        run_id = log_benchmark_run(
            results, tracking_uri=uri, dataset_files={"paper": data},
            model_tags={"local/smollm2-135m": {"weights_sha256": WEIGHTS, "api_key": SECRET}},
            extra_tags={"airflow.dag_run_id": "manual__1"},
        )
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    from mlflow import MlflowClient

    return {"root": root, "uri": uri, "run_id": run_id, "results": results, "data": data,
            "client": MlflowClient(uri)}


def _children(client, parent):
    exp = client.get_run(parent).info.experiment_id
    return client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")


def _all_artifacts(client, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for f in client.list_artifacts(run_id, path):
        out.extend(_all_artifacts(client, run_id, f.path) if f.is_dir else [f.path])
    return out


# ---------------------------------------------------------------------------- local store


def test_parent_and_nested_runs(store):
    client, rid = store["client"], store["run_id"]
    parent = client.get_run(rid)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "xai-bench run-1"
    kids = _children(client, rid)
    cells = {(k.data.tags["xai_bench.model"], k.data.tags["xai_bench.dataset"], k.data.tags["xai_bench.method"])
             for k in kids}
    assert cells == {(m, "paper", meth) for m in MODELS for meth in METHODS}
    for k in kids:
        assert k.info.status == "FINISHED"
        assert k.data.params == {"model": k.data.tags["xai_bench.model"], "dataset": "paper",
                                 "method": k.data.tags["xai_bench.method"]}
    exp = client.get_experiment(parent.info.experiment_id)
    assert exp.name == "xai-bench"
    assert exp.artifact_location == (store["root"] / "db" / "artifacts").as_uri()


def test_metrics_on_nested_and_parent_runs(store):
    client, rid = store["client"], store["run_id"]
    doc = _metrics_doc()
    for k in _children(client, rid):
        t = k.data.tags
        expected = doc["results"][t["xai_bench.model"]]["paper"][t["xai_bench.method"]]
        m = k.data.metrics
        assert m["att_auroc"] == pytest.approx(expected["att_auroc"])
        assert m["att_auroc_ci_low"] == 0.6 and m["llm_calls"] == 120 and m["fidelity_r2"] == 0.5
        assert "sufficiency" not in m and t["xai_bench.non_numeric_metrics"] == "sufficiency"
        odd = json.loads(t["xai_bench.metric_names"])["odd name (%)"]
        assert m[odd] == 3.5 and odd.startswith("odd name _")
    pm = client.get_run(rid).data.metrics
    assert pm["local/smollm2-135m/paper/lime/att_auroc"] == pytest.approx(0.71)
    assert pm["openai/gpt-4o-mini/paper/gsmile/att_auroc"] == pytest.approx(0.8)
    assert len(pm) == len(MODELS) * len(METHODS) * 5  # five numeric metrics per cell


def test_params_are_the_flattened_configuration(store):
    params = store["client"].get_run(store["run_id"]).data.params
    assert params["seed"] == "7"
    assert params["explain.n_samples"] == "64" and params["explain.kernel_width"] == "0.25"
    assert json.loads(params["models"]) == list(MODELS)
    assert params["providers.openai.api_key"] == "[REDACTED]"
    assert params["providers.openai.api_base"] == "https://api.example.com/v1"
    assert len(params["notes"]) == 6000 and params["notes"].endswith("chars]")
    weird = [k for k in params if k.startswith("weird key_")]
    assert len(weird) == 1 and params[weird[0]] == "1"


def test_tags(store):
    tags = store["client"].get_run(store["run_id"]).data.tags
    assert tags["xai_bench.run_id"] == "run-1"
    assert tags["xai_bench.git_commit"] == tags["mlflow.source.git.commit"] == _metrics_doc()["run"]["git_commit"]
    assert tags["xai_bench.config_hash"] == "c0ffee"
    assert tags["xai_bench.seed"] == "7"
    assert tags["xai_bench.role"] == "parent"
    from xai_bench.ops.audit import sha256_file

    assert tags["xai_bench.dataset.paper.sha256"] == sha256_file(store["data"])
    assert tags["xai_bench.model.local/smollm2-135m.weights_sha256"] == WEIGHTS
    assert tags["xai_bench.model.openai/gpt-4o-mini.id"] == "openai/gpt-4o-mini"
    assert tags["xai_bench.model.local/smollm2-135m.api_key"] == "[REDACTED]"
    assert tags["xai_bench.airflow.dag_run_id"] == "manual__1"
    assert tags["xai_bench.metrics_sha256"] == sha256_file(store["results"] / "metrics.json")
    kid = _children(store["client"], store["run_id"])[0]
    assert kid.data.tags["xai_bench.dataset.sha256"] == tags["xai_bench.dataset.paper.sha256"]


def test_artifacts(store, tmp_path):
    client, rid = store["client"], store["run_id"]
    files = set(_all_artifacts(client, rid))
    assert files == {"metrics.json", "per_prompt.csv", "report.md", "config.yaml", "heatmaps/paper/p1.png",
                     "heatmaps/paper/p1.html", "explanations/paper/p1.json"}
    got = Path(client.download_artifacts(rid, "", str(tmp_path)))
    assert (got / "metrics.json").read_bytes() == (store["results"] / "metrics.json").read_bytes()
    assert (got / "heatmaps/paper/p1.png").read_bytes() == (store["results"] / "heatmaps/paper/p1.png").read_bytes()
    assert "[REDACTED]" in (got / "report.md").read_text()


def test_no_secret_anywhere(store, tmp_path):
    client, rid = store["client"], store["run_id"]
    runs = [client.get_run(rid), *_children(client, rid)]
    for r in runs:
        blob = json.dumps([r.data.params, r.data.tags, r.data.metrics])
        assert SECRET not in blob
    got = Path(client.download_artifacts(rid, "", str(tmp_path)))
    for f in got.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_dataset_inputs(store):
    client, rid = store["client"], store["run_id"]
    inputs = client.get_run(rid).inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0]
    tags = {t.key: t.value for t in ds.tags}
    assert ds.dataset.name == "paper"
    assert tags["mlflow.data.context"] == "evaluation"
    assert tags["sha256"] == client.get_run(rid).data.tags["xai_bench.dataset.paper.sha256"]
    assert json.loads(ds.dataset.profile)["num_rows"] == 3
    assert str(store["data"].resolve()) in ds.dataset.source
    for kid in _children(client, rid):
        kid_inputs = client.get_run(kid.info.run_id).inputs.dataset_inputs
        assert [i.dataset.digest for i in kid_inputs] == [ds.dataset.digest]


def test_read_run_metrics_and_gate_source(store, monkeypatch):
    doc = read_run_metrics(store["run_id"], store["uri"])
    assert doc == json.loads((store["results"] / "metrics.json").read_text())
    kid = _children(store["client"], store["run_id"])[0].info.run_id
    assert read_run_metrics(kid, store["uri"]) == doc  # a nested run id leads to its parent
    from xai_bench.ops.gate import load_metrics

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    assert load_metrics(f"mlflow:{store['run_id']}") == doc


def test_read_run_metrics_rebuilds_without_the_artifact(store, tmp_path):
    root = store["root"]
    rid = log_benchmark_run(make_results(tmp_path / "OUT", run_id="run-rebuild"), tracking_uri=store["uri"],
                            model_tags={m: {"weights_sha256": WEIGHTS} for m in MODELS})
    artifact_dir = next((root / "db" / "artifacts").rglob(f"{rid}/artifacts"))
    (artifact_dir / "metrics.json").unlink()
    doc = read_run_metrics(rid, store["uri"])
    assert doc["run"]["run_id"] == "run-rebuild" and doc["run"]["seed"] == 7
    lime = doc["results"]["openai/gpt-4o-mini"]["paper"]["lime"]
    assert lime["att_auroc"] == pytest.approx(0.81) and "sufficiency" not in lime


def test_logging_again_is_idempotent(store, tmp_path):
    client, uri = store["client"], store["uri"]
    out = make_results(tmp_path / "OUT", run_id="run-retry")
    first = log_benchmark_run(out, tracking_uri=uri, hash_local_models=False)
    assert log_benchmark_run(out, tracking_uri=uri, hash_local_models=False) == first  # a retry: same run
    exp = client.get_run(first).info.experiment_id
    live = client.search_runs([exp], filter_string="tags.`xai_bench.run_id` = 'run-retry'")
    assert len(live) == 1 + len(MODELS) * len(METHODS)

    make_results(out, run_id="run-retry", bump=0.05)  # same run id, different results: replaced
    second = log_benchmark_run(out, tracking_uri=uri, hash_local_models=False)
    assert second != first
    assert client.get_run(first).info.lifecycle_stage == "deleted"
    live = client.search_runs([exp], filter_string="tags.`xai_bench.run_id` = 'run-retry'")
    assert len(live) == 1 + len(MODELS) * len(METHODS)
    assert all(r.data.tags.get("mlflow.parentRunId", second) == second for r in live)


def test_local_gguf_weights_are_hashed(store, tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + bytes(1000))
    out = make_results(tmp_path / "OUT", run_id="run-gguf")
    doc = json.loads((out / "metrics.json").read_text())
    doc["results"] = {f"local/{gguf}": doc["results"]["local/smollm2-135m"]}
    (out / "metrics.json").write_text(json.dumps(doc))
    rid = log_benchmark_run(out, tracking_uri=store["uri"])
    from xai_bench.ops.audit import sha256_file

    tags = store["client"].get_run(rid).data.tags
    sha = [v for k, v in tags.items() if k.endswith(".weights_sha256")]
    assert sha == [sha256_file(gguf)]


def test_runner_folder_with_config_json_shards_and_fit(store, tmp_path, monkeypatch):
    """The benchmark runner's layout: config.json, run.json, shards/, fit/ (docs/results-schema.md)."""
    out = make_results(tmp_path / "OUT", run_id="run-runner")
    (out / "config.yaml").unlink()
    (out / "config.json").write_text(json.dumps({"seed": 3, "explain": {"n_samples": 32},
                                                 "providers": {"openai": {"api_key": SECRET}}}))
    (out / "run.json").write_text(json.dumps({"run_id": "run-runner", "fingerprint": "f" * 64}))
    (out / "shards").mkdir()
    (out / "shards" / "s0.json").write_text(json.dumps({"model": MODELS[0], "dataset": "paper",
                                                        "dataset_sha256": "d" * 64, "rows": []}))
    (out / "fit").mkdir()
    (out / "fit" / "s0.json").write_text(json.dumps({"rows": [], "explanations": [], "note": SECRET}))
    rid = log_benchmark_run(out, tracking_uri=store["uri"], hash_local_models=False)
    client = store["client"]
    run = client.get_run(rid)
    assert run.data.params["explain.n_samples"] == "32" and run.data.params["providers.openai.api_key"] == "[REDACTED]"
    assert run.data.tags["xai_bench.dataset.paper.sha256"] == "d" * 64
    assert run.inputs.dataset_inputs == []  # no data file given: hash tag only
    files = set(_all_artifacts(client, rid))
    assert {"config.json", "run.json", "fit/s0.json"} <= files and "shards/s0.json" not in files
    got = Path(client.download_artifacts(rid, "", str(tmp_path / "dl")))
    assert SECRET not in (got / "config.json").read_text() + (got / "fit" / "s0.json").read_text()
    assert json.loads((got / "config.json").read_text())["explain"] == {"n_samples": 32}


def test_tag_run_scrubs(store):
    tag_run(store["run_id"], {"gate_verdict": "pass", "token": SECRET}, tracking_uri=store["uri"])
    tags = store["client"].get_run(store["run_id"]).data.tags
    assert tags["gate_verdict"] == "pass" and tags["token"] == "[REDACTED]"


def test_run_url(store, monkeypatch):
    exp = store["client"].get_run(store["run_id"]).info.experiment_id
    monkeypatch.delenv("XAI_BENCH_MLFLOW_UI_URL", raising=False)
    assert run_url(store["run_id"], tracking_uri=store["uri"]) == (
        f"http://127.0.0.1:5000/#/experiments/{exp}/runs/{store['run_id']}")
    assert run_url(store["run_id"], tracking_uri=store["uri"], ui_url="https://mlflow.example/").startswith(
        "https://mlflow.example/#/experiments/")


# ---------------------------------------------------------------------------- pure parts


def test_bad_results_folder_is_a_tracking_error(tmp_path):
    with pytest.raises(TrackingError, match="results folder not found"):
        log_benchmark_run(tmp_path / "missing", tracking_uri=f"sqlite:///{tmp_path}/x.db")
    (tmp_path / "OUT").mkdir()
    (tmp_path / "OUT" / "metrics.json").write_text('{"schema_version": 2}')
    with pytest.raises(TrackingError, match="schema_version"):
        log_benchmark_run(tmp_path / "OUT", tracking_uri=f"sqlite:///{tmp_path}/x.db")
    assert not (tmp_path / "x.db").exists()  # nothing was logged


def test_missing_dataset_file(tmp_path):
    out = make_results(tmp_path / "OUT")
    with pytest.raises(TrackingError, match="dataset_files\\['paper'\\]: file not found"):
        log_benchmark_run(out, tracking_uri=f"sqlite:///{tmp_path}/x.db", dataset_files={"paper": tmp_path / "no"})


def test_default_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_BENCH_HOME", str(tmp_path))
    assert default_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert default_artifact_location() == (tmp_path.resolve() / "mlflow" / "artifacts").as_uri()


def test_flatten_config():
    flat = flatten_config({"a": {"b": 1, "c": [1, 2], "d": {}}, "password": "hunter22", "e": None, "s": "x"})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "a.d": "{}", "password": "[REDACTED]", "e": "null", "s": "x"}


def test_tracking_scope_restores_the_callers_uri(monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/caller.db")
    with tracking_scope("sqlite:////tmp/other.db"):
        assert mlflow.get_tracking_uri() == "sqlite:////tmp/other.db"
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:////tmp/caller.db"
    assert mlflow.get_tracking_uri() == "sqlite:////tmp/caller.db"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_sanitized_names_are_valid_mlflow_keys(name):
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    key = sanitize_name(name)
    assert 0 < len(key) <= 250
    assert validate_param_and_metric_name(key) and key.isascii()
    assert not path_not_unique(key)
    assert re.fullmatch(r"[A-Za-z0-9_\-./ ]+", key)  # (MLflow's own regex lets a trailing newline through)
    if re.fullmatch(r"[A-Za-z0-9_\-./ ]+", name) and not path_not_unique(name) and len(name) <= 250:
        assert key == name  # valid names are kept as they are


@settings(deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_sanitized_names_stay_distinct(a, b):
    if a != b:
        assert sanitize_name(a) != sanitize_name(b)


# ---------------------------------------------------------------------------- a real server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and proxied artifacts; yields its URL."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    exe = Path(sys.executable).parent / "mlflow"
    cmd = [str(exe) if exe.exists() else "mlflow", "server",
           "--backend-store-uri", f"sqlite:///{root / 'db'}", "--artifacts-destination", str(root / "art"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{(root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health in 120 s:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": url, "root": root}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (its workers)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.mark.integration
def test_log_to_a_real_mlflow_server_over_http(mlflow_server, tmp_path):
    from mlflow import MlflowClient

    url = mlflow_server["url"]
    out = make_results(tmp_path / "OUT", run_id="run-http")
    data = make_dataset(tmp_path / "paper.jsonl")
    rid = log_benchmark_run(out, tracking_uri=url, experiment="xai-bench-http", dataset_files={"paper": data},
                            model_tags={m: {"weights_sha256": WEIGHTS} for m in MODELS})

    client = MlflowClient(url)
    run = client.get_run(rid)
    assert run.info.status == "FINISHED" and run.data.tags["xai_bench.run_id"] == "run-http"
    assert run.data.params["explain.n_samples"] == "64"
    assert run.data.params["providers.openai.api_key"] == "[REDACTED]"
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["paper"]
    kids = _children(client, rid)
    assert len(kids) == len(MODELS) * len(METHODS)
    assert sorted(k.data.metrics["att_auroc"] for k in kids) == pytest.approx([0.7, 0.71, 0.8, 0.81])
    assert "heatmaps/paper/p1.png" in _all_artifacts(client, rid)
    # artifacts went through the server's proxy into --artifacts-destination
    assert list((mlflow_server["root"] / "art").rglob("p1.png"))
    assert client.get_experiment(run.info.experiment_id).artifact_location.startswith("mlflow-artifacts:")
    assert read_run_metrics(rid, url) == json.loads((out / "metrics.json").read_text())
    assert run_url(rid, tracking_uri=url) == f"{url}/#/experiments/{run.info.experiment_id}/runs/{rid}"
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/runs/get?run_id={rid}", timeout=10) as r:
        assert json.load(r)["run"]["info"]["run_id"] == rid
