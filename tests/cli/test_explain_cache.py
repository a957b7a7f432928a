"""``xai-bench explain`` twice on the embedded model with a shared cache directory, and a run
killed with SIGKILL in the middle of querying: the rerun sends only the calls that had not
finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.conftest import xai_bench_cmd

PROMPT = "Give me three tips for cooking rice on a gas stove ."


def _env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "XAI_BENCH_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def _args(out: Path, j: int) -> list[str]:
    return [*xai_bench_cmd(), "explain", PROMPT, "--model", "local/smollm2-135m", "--perturbations", str(j),
            "--max-tokens", "16", "--permutations", "0", "--quiet", "--out", str(out)]


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


def test_second_run_is_served_from_the_cache(tmp_path):
    env = _env(tmp_path / "cache")
    first = subprocess.run(_args(tmp_path / "a", 16), env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(_args(tmp_path / "b", 16), env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    a = json.loads((tmp_path / "a" / "explanation.json").read_text())
    b = json.loads((tmp_path / "b" / "explanation.json").read_text())
    unique = a["usage"]["llm_calls"]
    assert unique >= 2 and a["usage"]["cache_hits"] == 0
    assert unique + a["usage"]["deduplicated"] == 17
    assert b["usage"]["llm_calls"] == 0
    assert b["usage"]["cache_hits"] == unique
    assert b["usage"]["prompt_tokens"] == 0 and a["usage"]["prompt_tokens"] > 0  # tokens sent to a model
    assert b["attributions"] == a["attributions"]
    assert [p["response"] for p in b["perturbations"]] == [p["response"] for p in a["perturbations"]]
    assert _rows(tmp_path / "cache" / "responses.sqlite") == unique


def test_sigkill_mid_query_then_rerun_sends_only_the_missing_calls(tmp_path):
    cache_dir = tmp_path / "cache"
    db = cache_dir / "responses.sqlite"
    env = _env(cache_dir)
    proc = subprocess.Popen(_args(tmp_path / "killed", 16), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _rows(db) < 4:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no responses were cached within 120 s"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = _rows(db)
    rerun = subprocess.run(_args(tmp_path / "rerun", 16), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    usage = json.loads((tmp_path / "rerun" / "explanation.json").read_text())["usage"]
    unique = usage["llm_calls"] + usage["cache_hits"]
    assert 0 < before < unique, (before, unique)
    assert usage["cache_hits"] == before
    assert usage["llm_calls"] == unique - before
    assert _rows(db) == unique  # every unique prompt stored exactly once
