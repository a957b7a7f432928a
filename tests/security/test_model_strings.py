"""Issue 12, "Why" bullet 5: 'control:flaky-abc' surfaced as an APIConnectionError per call. Every
entry point that takes a model (explain, run, stage prepare, fairness) now refuses it before any
call with one line naming the model string and the valid forms (exit 2)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xai_bench.cli import main

SPEC = "control:flaky-abc"


def _config(tmp_path) -> str:
    cfg = tmp_path / "bad-model.yaml"
    cfg.write_text(f"name: bad\nmodels: ['{SPEC}']\n"
                   "datasets: [{name: paper, path: data/prepared/paper.jsonl, limit: 1}]\nmethods: [gsmile]\n"
                   "explain: {n_perturbations: 8, pvalue_permutations: 0}\ncache: 'off'\n")
    return str(cfg)


@pytest.mark.parametrize("entry", ["explain", "run", "stage", "fairness"])
def test_a_malformed_control_model_is_a_model_string_error_everywhere(tmp_path, entry):
    out = tmp_path / "out"
    args = {
        "explain": ["explain", "hello world", "-m", SPEC, "-j", "8", "--no-cache", "-o", str(out)],
        "run": ["run", "--config", _config(tmp_path), "--out", str(out)],
        "stage": ["stage", "prepare", "--config", _config(tmp_path), "--run-dir", str(out)],
        "fairness": ["fairness", "-m", SPEC, "-j", "8", "--no-cache", "--out", str(out)],
    }[entry]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, (entry, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert f"Malformed control model {SPEC!r}" in r.stderr and "control:flaky-<pct>" in r.stderr, r.stderr
    assert "APIConnectionError" not in r.output and "Traceback" not in r.output
    assert not list(out.rglob("*.json")) if out.exists() else True  # nothing computed or written
