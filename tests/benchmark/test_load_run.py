"""xai_bench.load_run: a finished run as pandas tables (issue 14, item 3), on a real oracle run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest


def test_import_xai_bench_stays_light():
    code = ("import sys, xai_bench; assert 'pandas' not in sys.modules and 'xai_bench.ops.load' not in sys.modules; "
            "from xai_bench import load_run, RunResult; assert 'xai_bench.ops.load' in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("which", ["folder", "metrics.json"])
def test_load_run_folder_and_metrics_json(tiny_run, which):
    import pandas as pd

    from xai_bench import RunResult, load_run

    doc = json.loads((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    run = load_run(tiny_run if which == "folder" else tiny_run / "metrics.json")
    assert isinstance(run, RunResult)
    assert run.metrics == doc and run.run_id == doc["run"]["run_id"]

    pp = run.per_prompt
    assert isinstance(pp, pd.DataFrame)
    csv_lines = (tiny_run / "per_prompt.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(pp) == len(csv_lines) - 1
    assert list(pp.columns) == csv_lines[0].split(",")
    assert set(pp["method"]) == {"gsmile", "lime", "random"}
    assert pp["att_auroc"].dtype == float and pp["n_words"].dtype == float
    assert pd.api.types.is_string_dtype(pp["example_id"]) and pp["example_id"].iloc[0] == "paper/mol-01"

    agg = run.aggregate
    assert list(agg.columns) == ["model", "dataset", "method", "metric", "value", "n", "ci_low", "ci_high", "min",
                                 "max"]
    cell = doc["results"]["oracle:@rationale"]["paper"]["gsmile"]
    row = agg[(agg.method == "gsmile") & (agg.metric == "att_auroc")].iloc[0]
    assert (row.model, row.dataset) == ("oracle:@rationale", "paper")
    assert row.value == cell["att_auroc"] and row.n == cell["att_auroc_n"] == 2
    assert row["min"] == cell["att_auroc_min"] and row["max"] == cell["att_auroc_max"]
    assert math.isnan(row.ci_low) and math.isnan(row.ci_high)  # 2 prompts: a range, no interval
    # suffix keys are columns, not metrics of their own; one row per base metric and cell
    assert not agg.metric.str.endswith(("_n", "_min", "_max", "_ci_low", "_ci_high")).any()
    n_base = sum(1 for k in cell if not any(k.endswith(s) and k[: -len(s)] in cell
                                           for s in ("_n", "_min", "_max", "_ci_low", "_ci_high")))
    assert (agg.method == "gsmile").sum() == n_base
    # the paired differences in the same shape
    assert set(run.paired.method) >= {"gsmile - lime"}


def test_load_run_missing_csv_names_it(tiny_run, tmp_path):
    from xai_bench import load_run
    from xai_bench.ops.runfolder import GateInputError

    (tmp_path / "metrics.json").write_text((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    with pytest.raises(GateInputError, match="per_prompt.csv"):
        load_run(tmp_path)


def test_load_run_from_mlflow(tiny_run, tmp_path, monkeypatch):
    from xai_bench import load_run
    from xai_bench.ops.tracking import log_benchmark_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_benchmark_run(tiny_run, tracking_uri=uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    from_mlflow = load_run(f"mlflow:{run_id}")
    local = load_run(tiny_run)
    assert from_mlflow.metrics == local.metrics
    assert from_mlflow.per_prompt.equals(local.per_prompt)
    assert from_mlflow.aggregate.equals(local.aggregate)
