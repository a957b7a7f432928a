"""Drift alerts: mailed through Airflow's SmtpNotifier on an SMTP Connection to a real loopback receiver,
in process and from a real `airflow dags test` run whose gate fails."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
sys.path.insert(0, str(REPO / "plugins"))


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to accept mail: no TLS, no AUTH; every message is kept."""

    def handle(self) -> None:
        self.wfile.write(b"220 127.0.0.1 xai-bench test receiver\r\n")
        data: list[bytes] | None = None
        rcpt: list[str] = []
        while line := self.rfile.readline(65536):
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append((rcpt, b"".join(data)))  # type: ignore[attr-defined]
                    data, rcpt = None, []
                    self.wfile.write(b"250 OK\r\n")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                rcpt.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.wfile.write(b"250 OK\r\n")
            elif verb in (b"HELO", b"MAIL", b"RSET", b"NOOP"):
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"DATA":
                data = []
                self.wfile.write(b"354 end with <CRLF>.<CRLF>\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not implemented\r\n")


@pytest.fixture
def smtp_receiver():
    """A loopback SMTP server in a thread; yields it (``.messages``: (recipients, raw bytes)), then stops it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _connection(port: int) -> str:
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "xai-bench@localhost",
                                 "to": "drift-team@localhost", "timeout": 20, "retry_limit": 1}})


def _body(raw: bytes) -> tuple[email.message.EmailMessage, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    return msg, part.get_content()


GATE = {"verdict": "fail", "baseline": "configs/baseline/metrics.json", "report": {"rows": [
    {"model": "oracle:@rationale", "dataset": "paper", "method": "gsmile", "metric": "att_auroc",
     "verdict": "fail", "baseline": 0.98, "current": 0.71, "mean_worse": 0.27, "tolerance": 0.05,
     "reason": "worse by 0.27 {{ 7*7 }} <b>x</b>"},
    {"model": "oracle:@rationale", "dataset": "paper", "method": "lime", "metric": "att_auroc",
     "verdict": "pass", "mean_worse": 0.0, "tolerance": 0.05}]}}


def test_smtp_notifier_delivers_an_alert_to_a_loopback_receiver(smtp_receiver, monkeypatch):
    from xai_bench.ops.drift_alert import drift_alert
    from xai_bench_notify import send_drift_alert

    monkeypatch.setenv("AIRFLOW_CONN_XAI_BENCH_ALERTS_TEST", _connection(smtp_receiver.server_address[1]))
    alert = drift_alert(GATE, run_id="manual__test", report_link="/runs/x/report.html")
    sent = send_drift_alert(alert, conn_id="xai_bench_alerts_test", context={})
    assert sent == "drift-team@localhost"
    (rcpt, raw), = smtp_receiver.messages
    assert rcpt == ["drift-team@localhost"]
    msg, body = _body(raw)
    assert msg["Subject"] == "[xai-bench] drift gate FAILED for run manual__test: 1 row(s)"
    assert msg["X-Xai-Bench-Alert"] == "fail"
    assert "oracle:@rationale / paper / gsmile / att_auroc" in body and "/runs/x/report.html" in body
    assert "{{ 7*7 }}" in body and "&lt;b&gt;x&lt;/b&gt;" in body  # sent as written: not rendered, escaped
    assert "lime" not in body  # a passing row is not named


def test_no_connection_means_no_mail(smtp_receiver):
    from xai_bench.ops.drift_alert import drift_alert
    from xai_bench_notify import send_drift_alert

    alert = drift_alert(GATE, run_id="r", report_link="x")
    assert send_drift_alert(alert, conn_id="xai_bench_alerts_absent", context={}) is None
    assert smtp_receiver.messages == []


@pytest.mark.timeout(2400)  # airflow db migrate + the whole DAG on 2 shared cores
def test_failing_gate_in_a_dag_run_mails_the_alert(smtp_receiver, tmp_path):
    """A small oracle configuration gated against the committed baseline (another model, more prompts):
    the gate fails, the DAG mails the run, the failing rows and the report's links, then fails the run."""
    from tests.dags.test_dag_run import _run_dag

    config = tmp_path / "alert-smoke.yaml"  # small: two prompts, one method, no model but the oracle
    config.write_text(json.dumps({
        "name": "alert-smoke", "seed": 0, "models": ["oracle:@rationale"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 2}], "methods": ["gsmile"],
        "explain": {"n_perturbations": 16, "pvalue_permutations": 0},
        "metrics": {"stability_changes": ["append"], "consistency_runs": 2, "fidelity_heldout": 8, "bootstrap": 200},
        "cache": "run", "heatmap_pngs": 0}), encoding="utf-8")
    r, env = _run_dag(tmp_path, {"config": str(config), "trend_runs": 3}, timeout=2300,
                      AIRFLOW_CONN_XAI_BENCH_ALERTS=_connection(smtp_receiver.server_address[1]))
    log = r.stdout[-3000:] + r.stderr[-3000:]
    assert len(smtp_receiver.messages) == 1, log
    rcpt, raw = smtp_receiver.messages[0]
    assert rcpt == ["drift-team@localhost"]
    msg, body = _body(raw)
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    gate = json.loads((run_dir / "gate.json").read_text(encoding="utf-8"))
    assert gate["verdict"] == "fail"
    assert "drift gate FAILED for run manual__" in msg["Subject"]
    assert "missing: local/smollm2-135m / paper / gsmile" in body  # a failing row, by name
    assert str(run_dir / "report.html") in body and "/#/experiments/" in body  # the report's links
    # the page it links to carries the verdict, and the trend page was drawn after the gate
    assert 'class="verdict v-fail">fail<' in (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / "trend" / "trend.html").is_file() and (run_dir / "trend" / "trend.png").is_file()
    # the report, the per-prompt table and the trend are on the MLflow run; the experiment opens on its runs
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("xai-bench")
    assert exp.tags.get("mlflow.experimentKind") == "custom_model_development"
    parent = next(p for p in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in p.data.tags)
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.html", "per_prompt_table.json", "gate.json", "trend"} <= names, names
    # the gate failed the run after the alert went out
    assert "Interpretability drift" in r.stdout + r.stderr, log
    assert Path(run_dir / "metrics.json").is_file()
