"""RunFolder: the one reader of a finished run folder (tracking and the audit record use it)."""

from __future__ import annotations

import json

import pytest

from xai_bench.ops.runfolder import GateInputError, RunFolder


def _folder(tmp_path):
    out = tmp_path / "run"
    (out / "shards").mkdir(parents=True)
    (out / "fit").mkdir()
    (out / "run.json").write_text(json.dumps({"run_id": "r1", "models": ["oracle:a", "local/no-such-model"],
                                              "fingerprint": {"config_hash": "c", "data": {"paper": "p" * 64}}}))
    (out / "shards" / "s0.json").write_text(json.dumps({"dataset": "paper", "dataset_sha256": "x" * 64}))
    (out / "shards" / "s1.json").write_text(json.dumps({"dataset": "instructions", "dataset_sha256": "i" * 64}))
    expl = {"prompt": "a b", "original_response": "A", "perturbations": [{"prompt": "a", "response": "B"}]}
    (out / "fit" / "s0.json").write_text(json.dumps({"explanations": [{"explanation": expl}], "rows": []}))
    return out


def test_reads_info_hashes_texts_and_config(tmp_path):
    out = _folder(tmp_path)
    folder = RunFolder(out)
    assert folder.info()["run_id"] == "r1"
    # run.json's fingerprint first; a shard adds a data set it does not name, never overrides one
    assert folder.dataset_hashes() == {"paper": "p" * 64, "instructions": "i" * 64}
    assert folder.explanation_texts() == (["a b", "a"], ["A", "B"])
    assert folder.config() == {}
    (out / "config.json").write_text(json.dumps({"name": "from-json"}))
    assert folder.config() == {"name": "from-json"}
    (out / "config.yaml").write_text("name: from-yaml\n")  # a hand-written config.yaml wins
    assert folder.config() == {"name": "from-yaml"}
    (out / "config.yaml").write_text("- a list\n")
    with pytest.raises(GateInputError, match="expected a mapping at the top level"):
        folder.config()


def test_missing_metrics_is_named(tmp_path):
    with pytest.raises(GateInputError, match="metrics.json"):
        RunFolder(_folder(tmp_path)).metrics()


def test_dataset_files_resolve_under_home(tmp_path, monkeypatch):
    out = _folder(tmp_path)
    data = tmp_path / "home" / "data" / "paper.jsonl"
    data.parent.mkdir(parents=True)
    data.write_text("{}\n")
    monkeypatch.setenv("XAI_BENCH_HOME", str(tmp_path / "home"))
    (out / "config.json").write_text(json.dumps({"datasets": [{"name": "paper", "path": "data/paper.jsonl"},
                                                              {"name": "gone", "path": "data/gone.jsonl"}]}))
    assert RunFolder(out).dataset_files() == {"paper": data}


def test_model_identity_hashes_local_weights_and_never_invents_one(tmp_path):
    from xai_bench.ops.audit import sha256_file

    out = _folder(tmp_path)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + bytes(1000))
    info = json.loads((out / "run.json").read_text())
    info["backend"] = {"build_id": "b1", "system_info": "AVX2 = 1", "cpu": {"model": "cpu-x"}}
    (out / "run.json").write_text(json.dumps(info))
    folder = RunFolder(out)
    assert folder.model_identity("oracle:a") == {}
    got = folder.model_identity(f"local/{gguf}")
    assert got == {"weights_sha256": sha256_file(gguf), "weights_file": "tiny.gguf", "llama_cpp_build": "b1",
                   "llama_cpp_system_info": "AVX2 = 1", "cpu": "cpu-x"}  # the build that answered (run.json)
    missing = folder.model_identity("local/no-such-model")
    assert missing["weights_sha256"] is None and missing["note"]
