"""``xai-bench ui``: the MLflow UI on the project's tracking store, offline-safe.

Started bare, ``mlflow ui`` hangs on a machine without network: MLflow's server imports
litellm, whose import fetches a remote cost map and deadlocks against MLflow's import hooks.
This command starts MLflow's server with the offline switches set, on 127.0.0.1, waits
until it answers, and prints the address of the benchmark experiment's runs view (MLflow 3
otherwise opens an experiment on its GenAI overview, which shows nothing for these runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from ._common import user_errors

__all__ = ["ui", "offline_env", "wait_for_http"]


def offline_env() -> dict[str, str]:
    """Set the offline switches in this process and return the environment for a child that must
    never touch the network (litellm's cost map, Hugging Face, MLflow and DVC telemetry)."""
    from ..offline import set_offline_env

    set_offline_env(telemetry=True)
    return dict(os.environ)


def wait_for_http(url: str, *, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    """Poll ``url`` until it answers 200 (True), the process exits or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the server and every process it started (SIGINT, then SIGKILL after 10 s)."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; make sure no worker of its group is left
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def _experiment_id(uri: str) -> str | None:
    """The benchmark experiment's id in the store (None when no run was recorded yet)."""
    from ..ops.mlflow_store import EXPERIMENT_NAME, mark_runs_experiment

    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(EXPERIMENT_NAME)
        if exp is not None:
            mark_runs_experiment(client, exp.experiment_id)  # stores written before the tag existed
    except Exception:  # noqa: BLE001 - an empty or new store: no experiment yet
        return None
    return None if exp is None else exp.experiment_id


@click.command("ui")
@click.option("--port", type=int, default=5000, show_default=True, help="Port on 127.0.0.1.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (loopback by default; the UI has no authentication).")
@click.option("--tracking-uri", default=None, metavar="URI",
              help="Store to show (default: $MLFLOW_TRACKING_URI, else ./mlflow/mlflow.db under $XAI_BENCH_HOME).")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the server to answer before giving up.")
@user_errors
def ui(port: int, host: str, tracking_uri: str | None, timeout: float) -> None:
    """Open the MLflow UI on the project's store, with no network access needed.

    \b
    Example:
      xai-bench ui                 # then open the printed address
      xai-bench ui --port 5001 --tracking-uri sqlite:///$PWD/mlflow/mlflow.db
    """
    from ..errors import XaiBenchError
    from ..ops.mlflow_store import local_artifact_location, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    env = offline_env()
    env["MLFLOW_TRACKING_URI"] = uri
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host, "--port", str(port),
           "--workers", "1"]
    artifacts = local_artifact_location(uri)
    if artifacts:
        cmd += ["--artifacts-destination", artifacts]
    click.echo(f"Starting the MLflow UI on {uri} ...", err=True)
    # its own process group: MLflow's server runs its web workers as child processes, and
    # stopping the UI must stop all of them
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603 - our interpreter and arguments

    def _stop(signum: int, frame: object) -> None:  # SIGTERM (kill, a supervisor) stops the server too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    try:
        if not wait_for_http(f"{base}/health", timeout=timeout, proc=proc):
            code = proc.poll()
            raise XaiBenchError(
                f"The MLflow UI did not answer on {base} within {timeout:.0f} s"
                + (f" (the server exited with code {code}; is port {port} already in use? try --port)" if code is not None
                   else "; try a longer --timeout on a loaded machine"))
        exp = _experiment_id(uri)
        where = f"{base}/#/experiments/{exp}/runs" if exp else f"{base}/#/experiments"
        click.echo(f"MLflow UI: {where}" + ("" if exp else "  (no benchmark run recorded yet)"))
        click.echo("Press Ctrl+C to stop.", err=True)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_group(proc)
