"""A malformed data set stops the run before any model query, with a report naming the row."""

from __future__ import annotations

import json

import pytest

GOOD = {
    "dataset": "toy", "task": "generation", "template": "{text}", "label": None, "label_set": None,
    "provenance": {"source": "test", "licence": "Apache-2.0", "ref": "tests"},
}


def _row(row_id: str, words: list[str], rationale: list[int] | None) -> dict:
    return {"id": row_id, **GOOD, "words": words, "rationale": rationale}


def _rows(kind: str) -> list[dict]:
    rows = [_row("toy/1", ["What", "is", "life?"], [0, 0, 1]), _row("toy/2", ["Name", "a", "colour"], [0, 0, 1])]
    if kind == "missing_mask":
        bad = _row("toy/bad", ["Boil", "an", "egg"], [1, 0, 1])
        del bad["rationale"]
    elif kind == "wrong_length":
        bad = _row("toy/bad", ["Boil", "an", "egg"], [1, 0])
    elif kind == "empty_prompt":
        bad = _row("toy/bad", [], None)
    else:  # duplicate id
        bad = _row("toy/1", ["Boil", "an", "egg"], [1, 0, 1])
    return rows + [bad]


@pytest.mark.parametrize("kind", ["missing_mask", "wrong_length", "empty_prompt", "duplicate_id"])
def test_malformed_row_stops_the_run_before_any_query(kind, tmp_path, monkeypatch):
    from xai_bench.benchmark import BenchmarkConfig, run_benchmark
    from xai_bench.benchmark import stages
    from xai_bench.errors import DataValidationError

    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(kind)), encoding="utf-8")

    def no_query(*args, **kwargs):
        raise AssertionError("a model was queried although the data set is invalid")

    monkeypatch.setattr(stages, "query_stage", no_query)
    monkeypatch.setattr("xai_bench.llm.query.query_model", no_query)
    config = BenchmarkConfig.from_dict({"models": ["oracle:@rationale"],
                                        "datasets": [{"name": "toy", "path": str(path)}], "cache": "off"})
    with pytest.raises(DataValidationError) as info:
        run_benchmark(config, tmp_path / "run", progress=False)
    message = str(info.value)
    assert "line 3" in message and ("'toy/bad'" in message or "'toy/1'" in message), message
    assert not (tmp_path / "run" / "shards").exists()
    assert not (tmp_path / "run" / "run.json").exists()


def test_the_cli_prints_the_report_and_exits_2(tmp_path):
    from click.testing import CliRunner

    from xai_bench.cli import main

    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows("wrong_length")), encoding="utf-8")
    config = tmp_path / "bad.yaml"
    config.write_text(f"models: ['oracle:@rationale']\ndatasets: [{{name: toy, path: '{data}'}}]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 2
    assert "rationale_length" in result.output and "toy/bad" in result.output
