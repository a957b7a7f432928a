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


def test_held_out_masks_are_never_training_masks_nor_the_original(tiny_run):
    from xai_bench.benchmark import stages
    from xai_bench.benchmark.rundir import read_json, stage_path

    checked = 0
    for shard_id in stages.shard_ids(tiny_run):
        for ex in read_json(stage_path(tiny_run, "perturb", shard_id))["examples"]:
            main = {tuple(m) for m in ex["sets"]["base|main"]["perturbations"]["masks"]}
            held = [tuple(m) for m in ex["sets"]["base|heldout"]["perturbations"]["masks"]]
            d = len(ex["sets"]["base|main"]["features"]["words"])
            assert len(held) == 8 and len(set(held)) == 8, ex["id"]
            assert not main & set(held), (ex["id"], sorted(main & set(held)))
            assert (1,) * d not in held, ex["id"]
            checked += 1
    assert checked == 2


def test_held_out_fidelity_is_not_available_when_training_uses_every_mask(tmp_path):
    # paper/mol-01 has 6 words: 63 non-empty masks, all of them training masks at J = 64
    from xai_bench.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.from_dict({
        "name": "exhausted", "models": ["oracle:@rationale"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "ids": ["paper/mol-01"]}],
        "methods": ["gsmile"], "explain": {"n_perturbations": 64, "pvalue_permutations": 0},
        "metrics": {"stability": False, "erasure": False, "fidelity_heldout": 8},
        "random_baseline": False, "cache": "run", "heatmap_pngs": 0,
    })
    out = tmp_path / "run"
    run_benchmark(config, out, progress=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    gsmile = metrics["results"]["oracle:@rationale"]["paper"]["gsmile"]
    assert "fidelity_r2w" in gsmile  # in-sample fidelity is still there
    assert not [k for k in gsmile if "heldout" in k], sorted(gsmile)
    assert any("paper/mol-01" in n and "held-out fidelity not available" in n for n in metrics["notes"])


def test_oracle_rationale_reads_only_the_text_slot_of_a_templated_example():
    # CoS-E style: the rationale word "river" is also an answer option of the fixed template.
    # Read whole, the prompt keeps "river" when the input word is removed: the planted truth
    # (removing it changes the answer) would be false and the oracle would score every method 0.
    import numpy as np

    from xai_bench.benchmark.stages import resolve_model
    from xai_bench.config import ExplainConfig
    from xai_bench.datasets import Example
    from xai_bench.explain.explainer import query_stage
    from xai_bench.explain.perturbation import Perturbations

    template = "Answer the question by choosing A or B.\nQuestion: {text}\nA. river\nB. mountain\nAnswer:"
    ex = Example(id="t/1", dataset="t", task="multiple_choice", template=template,
                 words=("Where", "does", "the", "river", "flow?"), rationale=(0, 0, 0, 1, 0), label="A",
                 label_set=("A", "B"), provenance={})
    model = resolve_model("oracle:@rationale", ex)
    feats = ex.features()
    masks = np.array([[1, 1, 1, 0, 1], [0, 0, 0, 1, 0], [1, 1, 1, 1, 0]], dtype=np.int8)
    perts = Perturbations(masks=masks, texts=tuple(feats.render(m) for m in masks), seed=0, keep_prob=0.5)
    q = query_stage(feats, perts, model, ExplainConfig(), progress=False)
    assert "river" in perts.texts[0]  # still in the prompt, as an answer option
    assert q.responses[0] != q.original_response  # removing the input word changes the answer
    assert q.responses[1] == q.responses[2] == q.original_response  # the other words never do
    plain = Example(id="t/2", dataset="t", task="generation", template="{text}", words=("the", "river"),
                    rationale=(0, 1), label=None, label_set=None, provenance={})
    assert resolve_model("oracle:@rationale", plain) == "oracle:river"  # no template: the old spelling


def test_run_provenance_records_the_commit_and_whether_the_tree_was_dirty(tiny_run, tmp_path):
    import subprocess

    from xai_bench.benchmark.rundir import read_json
    from xai_bench.benchmark.prepare import _git_commit, _git_dirty

    run = read_json(tiny_run / "run.json")
    assert isinstance(run["git_dirty"], bool) and run["git_commit"]
    assert read_json(tiny_run / "metrics.json")["run"]["git_dirty"] == run["git_dirty"]

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                              capture_output=True, text=True).stdout

    git("init", "-q")
    (repo / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    assert _git_commit(repo) == git("rev-parse", "HEAD").strip()
    assert _git_dirty(repo) is False
    (repo / "new.txt").write_text("untracked\n")
    assert _git_dirty(repo) is False  # untracked files do not make the commit wrong
    (repo / "a.txt").write_text("two\n")
    assert _git_dirty(repo) is True  # a modified tracked file does
    git("add", "a.txt")
    assert _git_dirty(repo) is True  # staged but not committed, too
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert _git_commit(outside) is None and _git_dirty(outside) is None
