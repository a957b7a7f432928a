"""``xai-bench cache info`` / ``cache clear`` on a real response cache filled by oracle queries (issue 14, item 4)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from xai_bench.cli import main
from xai_bench.llm.cache import ResponseCache
from xai_bench.llm.query import QuerySettings, query_model

A, B = "oracle:meaning,life", "oracle:volcano"


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    query_model([f"what is the meaning of life, take {i} ?" for i in range(60)], QuerySettings(model=A),
                cache=cache, progress=False)
    query_model(["tell me about the volcano", "volcano again"], QuerySettings(model=B), cache=cache, progress=False)
    cache.close()
    return path


def _info(path) -> dict:
    r = CliRunner().invoke(main, ["cache", "info", "--cache", str(path), "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_info_counts_entries_per_model(filled):
    st = _info(filled)
    assert st["file"] == str(filled) and st["entries"] == 62
    assert st["models"] == {A: 60, B: 2}
    assert st["size_bytes"] >= filled.stat().st_size > 0
    text = CliRunner().invoke(main, ["cache", "info", "--cache", str(filled)])
    assert text.exit_code == 0 and "entries: 62" in text.output and A in text.output and "bytes" in text.output


def test_clear_one_model_keeps_the_others_and_vacuums(filled):
    before = _info(filled)["size_bytes"]
    r = CliRunner().invoke(main, ["cache", "clear", "--model", A, "--cache", str(filled), "--yes"])
    assert r.exit_code == 0, r.output
    assert "Deleted 60 entries" in r.output
    st = _info(filled)
    assert st["models"] == {B: 2} and st["entries"] == 2
    assert st["size_bytes"] < before
    with sqlite3.connect(filled) as conn:
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0  # VACUUMed
    # the remaining model's answers are still served from the cache
    again = query_model(["volcano again"], QuerySettings(model=B), cache=ResponseCache(filled), progress=False)
    assert again.replies[0].cached


def test_clear_asks_without_yes(filled):
    r = CliRunner().invoke(main, ["cache", "clear", "--cache", str(filled)], input="n\n")
    assert r.exit_code != 0 and "Delete 62 of 62" in r.output
    assert _info(filled)["entries"] == 62  # declined: nothing deleted
    r = CliRunner().invoke(main, ["cache", "clear", "--cache", str(filled)], input="y\n")
    assert r.exit_code == 0, r.output
    assert _info(filled)["entries"] == 0


def test_default_path_and_missing_file(tmp_path, monkeypatch):
    from xai_bench.paths import response_cache_path

    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(tmp_path / "c"))
    r = CliRunner().invoke(main, ["cache", "info", "--format", "json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert st["file"] == str(response_cache_path()) and st["entries"] == 0 and not st["exists"]
    r = CliRunner().invoke(main, ["cache", "clear", "--yes"])
    assert r.exit_code == 0 and "Nothing to delete" in r.output
    assert not response_cache_path().exists()  # neither command created it
