"""Issue 12, item 4: ``run --record`` checks the MLflow store, the audit log and the gate
thresholds before the first model call; a command that fails on output after the work says
in one line where its computed results are kept."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xai_bench.cli import main

CONFIG = ("name: pre\nseed: 0\nmodels: ['oracle:@rationale']\n"
          "datasets: [{name: paper, path: data/prepared/paper.jsonl, limit: 1}]\nmethods: [gsmile]\n"
          "explain: {n_perturbations: 8, pvalue_permutations: 0}\n"
          "metrics: {stability: false, erasure: false, fidelity_heldout: 0, bootstrap: 20}\n"
          "random_baseline: false\ncache: run\nheatmap_pngs: 0\n")


@pytest.fixture
def stores(tmp_path, monkeypatch):
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow/mlflow.db")
    monkeypatch.setenv("XAI_BENCH_AUDIT_LOG", str(tmp_path / "audit" / "audit.jsonl"))
    cfg = tmp_path / "pre.yaml"
    cfg.write_text(CONFIG)
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    return cfg, blocker


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in r.output, r.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["mlflow", "audit-folder", "audit-damaged", "thresholds"])
def test_run_record_refuses_unusable_stores_before_any_model_call(stores, tmp_path, monkeypatch, where):
    cfg, blocker = stores
    extra: list[str] = []
    if where == "mlflow":
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/mlflow.db")
        expect = str(blocker)
    elif where == "audit-folder":
        monkeypatch.setenv("XAI_BENCH_AUDIT_LOG", str(blocker / "audit.jsonl"))
        expect = str(blocker / "audit.jsonl")
    elif where == "audit-damaged":
        log = tmp_path / "audit" / "audit.jsonl"
        log.parent.mkdir()
        log.write_text('{"seq": 1, "hash": "forged"}\n')
        expect = "damaged chain"
    else:
        bad = tmp_path / "thresholds.yaml"
        bad.write_text("metrics: [unclosed\n")
        extra = ["--thresholds", str(bad)]
        expect = str(bad)
    out = tmp_path / "run"
    r = run("run", "--config", str(cfg), "--out", str(out), "-q", "--record", *extra)
    assert expect in one_line_error(r)
    assert not (out / "run.json").exists() and not (out / "responses.sqlite").exists()  # no stage ran


def test_explain_failing_on_output_says_where_the_answers_are_kept(tmp_path):
    out = tmp_path / "out"
    (out / "explanation.json").mkdir(parents=True)  # the output file cannot be written: found only at the end
    cache = tmp_path / "cache.sqlite"
    r = run("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "8", "--permutations",
            "0", "-q", "--cache", str(cache), "--out", str(out))
    line = one_line_error(r)
    assert str(out / "explanation.json") in line and f"the response cache {cache}" in line
    assert cache.stat().st_size > 0


def test_run_failing_on_output_says_the_run_folder_resumes(stores, tmp_path):
    cfg, _ = stores
    out = tmp_path / "run"
    (out / "report.md").mkdir(parents=True)  # aggregate cannot write its report
    r = run("run", "--config", str(cfg), "--out", str(out), "-q")
    line = one_line_error(r)
    assert str(out / "report.md") in line and f"the run folder {out}" in line and "resumes" in line
    assert list((out / "fit").glob("*.json"))  # the fitted shards are kept
