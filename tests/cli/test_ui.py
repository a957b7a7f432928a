"""``xai-bench ui`` answers on its port within a minute in a network namespace with no route
out (only loopback), and names the benchmark experiment's runs view."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import xai_bench_cmd

# Runs inside the namespace: start the UI, read the printed address, fetch it, stop the UI.
_CLIENT = textwrap.dedent(r"""
    import json, subprocess, sys, time, urllib.request
    cmd, port = json.loads(sys.argv[1]), int(sys.argv[2])
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    try:
        while time.monotonic() - t0 < 60:
            line = proc.stdout.readline()
            if line.startswith("MLflow UI:") or proc.poll() is not None:
                break
        ready = time.monotonic() - t0
        url = line.split("MLflow UI:", 1)[-1].split()[0] if line.startswith("MLflow UI:") else ""
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read().decode() if url else ""
        page = urllib.request.urlopen(url.split("#")[0], timeout=5).read().decode() if url else ""
    finally:
        proc.terminate()  # SIGTERM, as a supervisor stops it: the MLflow server must go too
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    stopped = False
    for _ in range(30):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
        except OSError:
            stopped = True
            break
        time.sleep(0.5)
    print(json.dumps({"line": line.strip(), "ready_s": ready, "health": health, "stopped": stopped,
                      "page_has_app": "<div id=\"root\"" in page or "mlflow" in page.lower()}))
    if not line.startswith("MLflow UI:"):
        print(proc.stderr.read()[-3000:], file=sys.stderr)
""")


def _isolated_prefix() -> list[str]:
    """``unshare -n`` with loopback up, where the kernel allows it; else this machine as it is
    (which has no route to the internet either)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh"]
    return []


@pytest.mark.timeout(180)
def test_ui_answers_offline_within_a_minute_on_the_runs_view(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    from xai_bench.ops.tracking import EXPERIMENT_KIND_TAG, EXPERIMENT_NAME

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(EXPERIMENT_NAME, artifact_location=(tmp_path / "art").as_uri())
    port = 5000 + (os.getpid() % 1000)
    env = {k: v for k, v in os.environ.items() if k not in ("LITELLM_LOCAL_MODEL_COST_MAP", "HF_HUB_OFFLINE")}
    cmd = xai_bench_cmd() + ["ui", "--port", str(port), "--tracking-uri", uri, "--timeout", "60"]
    proc = subprocess.run(_isolated_prefix() + [sys.executable, "-c", _CLIENT, json.dumps(cmd), str(port)],
                          capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["line"] == f"MLflow UI: http://127.0.0.1:{port}/#/experiments/{exp_id}/runs", (out, proc.stderr[-2000:])
    assert out["ready_s"] < 60
    assert out["health"].strip() == "OK"
    assert out["page_has_app"]
    assert out["stopped"], "the MLflow server outlived `xai-bench ui` after SIGTERM"
    # the experiment now opens on its runs table, not on MLflow 3's GenAI overview
    assert client.get_experiment(exp_id).tags.get(EXPERIMENT_KIND_TAG[0]) == EXPERIMENT_KIND_TAG[1]
