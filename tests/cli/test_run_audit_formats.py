"""``xai-bench run --format json|md`` and ``xai-bench audit report --format json|table`` (issue 14, item 3)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner

from tests.conftest import REPO, xai_bench_cmd
from tests.ops.test_audit import N_RECORDS, payload
from xai_bench.cli import main
from xai_bench.ops.audit import append_record, read_records


def _config(tmp: Path) -> Path:
    data = REPO / "data" / "prepared" / "paper.jsonl"
    assert data.is_file(), f"{data} is missing; build the data sets first (make data)"
    cfg = {"name": "format-oracle", "seed": 0, "models": ["oracle:@rationale"],
           "datasets": [{"name": "paper", "path": str(data), "limit": 2}], "methods": ["gsmile", "lime"],
           "explain": {"n_perturbations": 16, "pvalue_permutations": 0},
           "metrics": {"stability": False, "erasure": False, "fidelity_heldout": 0, "bootstrap": 200},
           "random_baseline": False, "cache": "run", "heatmap_pngs": 0}
    path = tmp / "format-oracle.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def test_run_json_then_md_on_the_same_folder(tmp_path):
    cfg, out = _config(tmp_path), tmp_path / "run"
    r = subprocess.run([*xai_bench_cmd(), "run", "--config", str(cfg), "--out", str(out), "--format", "json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # progress and stage lines went to stderr
    assert "query" in r.stderr and "aggregated" in r.stderr
    assert doc["metrics"] == json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert Path(doc["metrics_json"]) == out / "metrics.json" and Path(doc["report_md"]).is_file()
    assert doc["record"] is None
    methods = doc["metrics"]["results"]["oracle:@rationale"]["paper"]
    assert {"gsmile", "lime"} <= set(methods)

    # the finished folder again (every stage is skipped): the summary as Markdown
    md = CliRunner().invoke(main, ["run", "--config", str(cfg), "--out", str(out), "--format", "md", "-q"])
    assert md.exit_code == 0, md.output
    lines = md.stdout.splitlines()
    assert lines[0].startswith("## format-oracle: means over prompts (AUROC = att_auroc, F1 = att_f1")
    assert "### oracle:@rationale / paper" in lines
    header = next(line for line in lines if line.startswith("| method |"))
    assert "| AUROC |" in header
    gsmile = next(line for line in lines if line.startswith("| gsmile |"))
    assert f"{methods['gsmile']['att_auroc']:.3f}" in gsmile


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    for i in range(N_RECORDS):
        append_record(log, payload(i))
    return log


def test_audit_report_json_is_the_logged_record(tmp_path):
    log = _log(tmp_path)
    result = CliRunner().invoke(main, ["audit", "report", str(log), "--run-id", "run-2", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["record"] == read_records(log)[2]
    assert doc["chain"]["ok"] is True and doc["chain"]["n_records"] == N_RECORDS
    assert doc["chain"]["head_hash"] == read_records(log)[-1]["hash"]

    out = tmp_path / "r.json"
    assert CliRunner().invoke(main, ["audit", "report", str(log), "--format", "json", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["record"]["run_id"] == f"run-{N_RECORDS - 1}"

    missing = CliRunner().invoke(main, ["audit", "report", str(log), "--run-id", "nope", "--format", "json"])
    assert missing.exit_code == 2 and "nope" in missing.output and "run-4" in missing.output


def test_audit_report_table_draws_the_sections(tmp_path):
    log = _log(tmp_path)
    result = CliRunner().invoke(main, ["audit", "report", str(log), "--format", "table"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "|" not in text.replace("│", "")  # drawn as tables, not Markdown source
    for section in ("Run", "Models", "Datasets", "Metrics", "Drift gate"):
        assert section in text
    assert "run-4" in text and "intact" in text
    to_file = CliRunner().invoke(main, ["audit", "report", str(log), "--format", "table", "-o", str(tmp_path / "x")])
    assert to_file.exit_code == 2 and "--format table" in to_file.output
