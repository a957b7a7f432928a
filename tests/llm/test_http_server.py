"""The remote code path for real: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with
the embedded model, reached through litellm's ``openai/`` provider with ``api_base``, and a
fault-injecting HTTP proxy in front of it that answers a planned share of requests with
429 or 503."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xai_bench.llm.cache import ResponseCache
from xai_bench.config import ExplainConfig
from xai_bench.llm.query import QuerySettings, query_model

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` serving SmolLM2 as ``smol``; yields its base URL."""
    from xai_bench.llm.models.local import resolve_local_model

    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = open(log_path, "wb")  # a file, not a pipe: the server logs a lot while loading
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_local_model("smollm2-135m")),
         "--model_alias", "smol", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("llama_cpp.server did not answer within 60 s")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def planned_failures(prompt: str) -> list[int]:
    """Status codes the proxy returns, in order, before it lets a prompt through."""
    bucket = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3
    return [[429, 503], [503], []][bucket]


class FaultProxy:
    """Forwards to ``upstream``; per prompt, first answers its planned failures (or always 503
    for prompts in ``always_fail``). Records every request it saw per prompt."""

    def __init__(self, upstream: str, always_fail: set[str] = frozenset()) -> None:
        self.upstream = upstream.replace("http://", "")
        self.always_fail = set(always_fail)
        self.seen: dict[str, int] = {}
        self.failed = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                prompt = json.loads(body)["messages"][-1]["content"]
                with proxy.lock:
                    n = proxy.seen.get(prompt, 0)
                    proxy.seen[prompt] = n + 1
                plan = planned_failures(prompt)
                status = 503 if prompt in proxy.always_fail else (plan[n] if n < len(plan) else None)
                if status is not None:
                    with proxy.lock:
                        proxy.failed += 1
                    err = json.dumps({"error": {"message": f"injected {status}", "type": "injected"}}).encode()
                    self._send(status, err, {"Content-Type": "application/json", "Retry-After": "0"})
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=120)
                conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self._send(resp.status, data, {"Content-Type": resp.getheader("Content-Type", "application/json")})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_explanation_through_the_openai_provider(llama_server, tmp_path, embedder, monkeypatch):
    from xai_bench.explain.explainer import explain

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a placeholder key is sent to a self-hosted server
    cfg = ExplainConfig(n_perturbations=8, max_tokens=8, pvalue_permutations=0, api_base=llama_server + "/v1",
                        concurrency=4)
    cache = ResponseCache(tmp_path / "c.sqlite")
    e = explain("Name the capital city of France .", "openai/smol", cfg, cache=cache, embedder=embedder,
                progress=False)["gsmile"]
    assert e.original_response.strip()
    u = e.usage
    assert u["llm_calls"] >= 2 and u["failed_calls"] == 0 and u["cost_usd"] == 0.0
    assert u["llm_calls"] + u["deduplicated"] == 9 and u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert _rows(tmp_path / "c.sqlite") == u["llm_calls"]
    again = explain("Name the capital city of France .", "openai/smol", cfg, cache=cache, embedder=embedder,
                    progress=False)["gsmile"]
    assert again.usage["llm_calls"] == 0 and again.attributions == e.attributions


def test_faults_are_retried_and_every_call_accounted_for(llama_server, tmp_path, embedder):
    from xai_bench.explain.explainer import explain

    cache_path = tmp_path / "c.sqlite"
    with FaultProxy(llama_server) as proxy:
        cfg = ExplainConfig(n_perturbations=12, max_tokens=6, pvalue_permutations=0, api_base=proxy.url,
                            concurrency=4, num_retries=3, retry_initial_wait=0.05, retry_max_wait=0.2)
        e = explain("Suggest a fun activity for a rainy day .", "openai/smol", cfg, cache=ResponseCache(cache_path),
                    embedder=embedder, progress=False)["gsmile"]
    u = e.usage
    prompts = list(proxy.seen)
    planned = sum(len(planned_failures(p)) for p in prompts)
    assert planned > 0, "the proxy injected no faults; choose other prompts"
    assert u["failed_calls"] == 0 and all(r.error is None for r in e.perturbations)
    assert u["llm_calls"] == len(prompts)  # one call per unique prompt
    assert u["retries"] == planned == proxy.failed  # every injected failure was retried once
    assert sum(proxy.seen.values()) == u["llm_calls"] + u["retries"]  # every request accounted for
    assert _rows(cache_path) == len(prompts)  # nothing cached twice, no error cached


def test_permanent_failures_are_recorded_and_not_cached(llama_server, tmp_path):
    prompts = [f"Say the word number {i} ." for i in range(8)]
    broken = set(prompts[:2])
    cache = ResponseCache(tmp_path / "c.sqlite")
    with FaultProxy(llama_server, always_fail=broken) as proxy:
        settings = QuerySettings(model="openai/smol", api_base=proxy.url, max_tokens=4, concurrency=4, num_retries=2,
                                 retry_initial_wait=0.02, retry_max_wait=0.1, max_failure_share=0.5)
        res = query_model(prompts, settings, cache=cache, progress=False)
    failed = [r for r in res.replies if not r.ok]
    assert {r.prompt for r in failed} == broken
    assert all(r.attempts == 3 and "ServiceUnavailable" in r.error for r in failed)
    assert res.usage.failed_calls == 2 and res.usage.llm_calls == 8 and len(res.errors) == 2
    assert res.usage.retries == sum(proxy.seen.values()) - 8
    assert len(cache) == 6
