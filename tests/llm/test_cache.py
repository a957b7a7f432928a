"""The SQLite response cache: keys, modes, commit-per-response, errors never stored, two writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xai_bench.llm.cache import ResponseCache, request_key
from xai_bench.llm.query import QuerySettings, query_model


def _put(cache: ResponseCache, key: str, text: str = "answer") -> None:
    cache.put(key, model="m", request={"k": key}, text=text, prompt_tokens=1, completion_tokens=2, cost_usd=0.0,
              latency_s=0.1)


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_key_covers_everything_that_changes_an_answer():
    base = QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="s")
    variants = [
        QuerySettings(model="openai/y", temperature=0.0, max_tokens=16, seed=0, system_prompt="s"),
        QuerySettings(model="openai/x", temperature=0.5, max_tokens=16, seed=0, system_prompt="s"),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=17, seed=0, system_prompt="s"),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=1, system_prompt="s"),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="t"),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="s", top_p=0.9),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="s", logprobs=5),
        QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="s", api_base="http://h"),
    ]
    k0 = request_key(base.request("p"))
    keys = {request_key(v.request("p")) for v in variants}
    assert k0 not in keys and len(keys) == len(variants)
    assert request_key(base.request("q")) != k0
    # sending settings (timeouts, retries, concurrency) do not change the key
    assert request_key(QuerySettings(model="openai/x", temperature=0.0, max_tokens=16, seed=0, system_prompt="s",
                                     timeout=5, num_retries=0, concurrency=9).request("p")) == k0
    # samples: seed + s with a seed; the sample index itself without one
    assert request_key(base.request("p", sample=1)) != k0
    unseeded = QuerySettings(model="openai/x", seed=None)
    assert request_key(unseeded.request("p", 1)) != request_key(unseeded.request("p", 0))


def test_modes_use_refresh_off(tmp_path):
    path = tmp_path / "c.sqlite"
    use = ResponseCache(path)
    _put(use, "k1", "first")
    assert use.get("k1").text == "first"
    refresh = ResponseCache(path, mode="refresh")
    assert refresh.get("k1") is None  # never read
    _put(refresh, "k1", "second")  # but overwritten
    assert use.get("k1").text == "second"
    off = ResponseCache(path, mode="off")
    assert off.get("k1") is None
    _put(off, "k2")
    assert use.get("k2") is None and len(use) == 1
    with pytest.raises(ValueError, match="'mode' parameter must be one of"):
        ResponseCache(path, mode="read")


def test_each_response_is_committed_on_arrival(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    _put(cache, "a")
    assert _rows(path) == 1  # visible to another connection at once, no close or flush needed
    _put(cache, "b")
    assert _rows(path) == 2


def test_errors_are_never_cached_and_replies_are(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(Exception):
        query_model(["a b", "c d"], QuerySettings(model="control:error", num_retries=0), cache=cache, progress=False)
    assert len(cache) == 0
    res = query_model(["x y", "z w", "x y"], QuerySettings(model="oracle:x"), cache=cache, progress=False)
    assert res.usage.llm_calls == 2 and len(cache) == 2
    again = query_model(["x y", "z w"], QuerySettings(model="oracle:x"), cache=cache, progress=False)
    assert again.usage.llm_calls == 0 and again.usage.cache_hits == 2
    assert [r.text for r in again.replies] == [r.text for r in res.replies[:2]]


def test_refresh_mode_resends_and_overwrites_without_duplicating(tmp_path):
    path = tmp_path / "c.sqlite"
    query_model(["a", "b"], QuerySettings(model="oracle:a"), cache=ResponseCache(path), progress=False)
    res = query_model(["a", "b"], QuerySettings(model="oracle:a"), cache=ResponseCache(path, mode="refresh"),
                      progress=False)
    assert res.usage.llm_calls == 2 and res.usage.cache_hits == 0
    assert _rows(path) == 2


_WRITER = textwrap.dedent("""
    import sys
    from xai_bench.llm.cache import ResponseCache
    cache = ResponseCache(sys.argv[1])
    start, n = int(sys.argv[2]), int(sys.argv[3])
    for i in range(start, start + n):
        cache.put(f"k{i}", model="m", request={"i": i}, text=f"t{i}", prompt_tokens=1, completion_tokens=1,
                  cost_usd=0.0, latency_s=0.0)
        assert cache.get(f"k{i}").text == f"t{i}"
""")


def test_two_processes_share_one_cache(tmp_path):
    path = tmp_path / "shared.sqlite"
    ResponseCache(path)._conn()  # create the file and WAL mode first
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(start), "300"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for start in (0, 150)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    assert _rows(path) == 450  # overlapping keys 150..299 written by both, stored once
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
