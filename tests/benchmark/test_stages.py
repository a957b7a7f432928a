"""Stage functions: idempotent, run-scoped, refusing a folder of another run."""

from __future__ import annotations

import json

import pytest

from .conftest import tiny_config


def test_every_stage_run_twice_leaves_its_file_unchanged(tiny_run):
    from xai_bench.benchmark import stages

    ids = stages.shard_ids(tiny_run)
    assert stages.prepare(tiny_config(), tiny_run) == ids
    for shard_id in ids:
        for stage in (stages.perturb, stages.query, stages.distances, stages.fit):
            path = stage(tiny_run, shard_id)
            before = (path.read_bytes(), path.stat().st_mtime_ns)
            assert stage(tiny_run, shard_id) == path
            assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    metrics = stages.aggregate(tiny_run)
    before = metrics.read_bytes()
    assert stages.aggregate(tiny_run) == metrics and metrics.read_bytes() == before


def test_a_redone_stage_gives_the_same_numbers(tiny_run):
    from xai_bench.benchmark import stages

    shard_id = stages.shard_ids(tiny_run)[0]
    path = stages.fit(tiny_run, shard_id)
    old = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    new = json.loads(stages.fit(tiny_run, shard_id).read_text(encoding="utf-8"))

    def strip(rows):
        return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]

    assert strip(new["rows"]) == strip(old["rows"])
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left behind


def test_stages_write_only_inside_the_run_folder(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.json", "run.json", "shards", "perturb", "query", "distances", "fit", "metrics.json",
            "per_prompt.csv", "report.md", "heatmaps", "responses.sqlite"} <= names


def test_a_folder_of_another_configuration_is_refused(tiny_run):
    from xai_bench.benchmark import stages
    from xai_bench.config import ConfigError

    with pytest.raises(ConfigError, match="another configuration"):
        stages.prepare(tiny_config(erasure=False), tiny_run)


def test_a_stage_before_its_input_says_what_to_run(tmp_path):
    from xai_bench.benchmark import stages

    with pytest.raises(FileNotFoundError, match="Run the stages in order"):
        stages.perturb(tmp_path, "nope")
