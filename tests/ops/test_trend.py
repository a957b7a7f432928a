"""xai-bench trend (xai_bench.ops.trend): the band arithmetic, two real oracle runs read back from MLflow,
the CLI, and the page in headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.chromium_check import count_tags, ink_share, render_and_check


def _series(**kw):
    from xai_bench.ops.trend import Series

    base = dict(model="m", dataset="d", method="gsmile", metric="att_auroc", direction="higher",
                times=[dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)], values=[0.9], run_ids=["r"],
                baseline=0.9, rule={"max_abs_drop": 0.05})
    base.update(kw)
    return Series(**base)


@pytest.mark.parametrize("direction, rule, baseline, value, tolerance, worse, status", [
    ("higher", {"max_abs_drop": 0.05}, 0.9, 0.9, 0.05, 0.0, "ok"),
    ("higher", {"max_abs_drop": 0.05}, 0.9, 0.87, 0.05, 0.6, "warning"),
    ("higher", {"max_abs_drop": 0.05}, 0.9, 0.8, 0.05, 2.0, "beyond"),
    ("higher", {"max_abs_drop": 0.05}, 0.9, 1.0, 0.05, -2.0, "ok"),  # better than the baseline
    ("lower", {"max_rel_drop": 0.25}, 0.4, 0.5, 0.1, 1.0, "warning"),  # exactly at the limit: not beyond
    ("lower", {"max_rel_drop": 0.25, "max_abs_drop": 0.02}, 0.4, 0.43, 0.02, 1.5, "beyond"),  # the smaller wins
])
def test_band_is_the_gates_tolerance_on_the_mean(direction, rule, baseline, value, tolerance, worse, status):
    s = _series(direction=direction, rule=rule, baseline=baseline, values=[value])
    assert s.tolerance == pytest.approx(tolerance)
    assert s.worse(value) == pytest.approx(worse)
    assert s.status() == status


def test_status_without_baseline_value_or_with_bounds():
    assert _series(baseline=None).status() == "no baseline"
    assert _series(values=[None]).status() == "no value"
    assert _series(rule={"min_value": 0.95}, values=[0.9]).status() == "beyond"  # a bound, whatever the baseline
    with pytest.raises(ValueError, match="'last' parameter"):
        from xai_bench.ops.trend import read_runs

        read_runs(0)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two real tiny oracle runs (seeds 0 and 1) logged to a fresh MLflow store: (store URI, run folders)."""
    from tests.benchmark.conftest import tiny_config
    from xai_bench.benchmark import run_benchmark
    from xai_bench.ops.tracking import log_benchmark_run

    root = tmp_path_factory.mktemp("trend")
    uri = f"sqlite:///{root}/mlflow/mlflow.db"
    folders = []
    for seed in (0, 1):
        out = root / f"run{seed}"
        run_benchmark(tiny_config().replace(seed=seed), out, progress=False)
        log_benchmark_run(out, tracking_uri=uri, hash_local_models=False)
        folders.append(out)
    return uri, folders


def test_trend_reads_the_runs_back_and_draws_every_gated_metric(two_runs, tmp_path):
    from xai_bench.ops.trend import write_trend

    uri, (run0, run1) = two_runs
    docs = [json.loads((r / "metrics.json").read_text(encoding="utf-8")) for r in (run0, run1)]
    pages = write_trend(tmp_path / "t", last=5, baseline=run0, tracking_uri=uri)
    assert [r.run_id for r in pages.runs] == [d["run"]["run_id"] for d in docs]  # oldest first
    by_key = {(s.model, s.dataset, s.method, s.metric): s for s in pages.series}
    s = by_key[("oracle:@rationale", "paper", "lime", "att_auroc")]
    cell = [d["results"]["oracle:@rationale"]["paper"]["lime"] for d in docs]
    assert s.values == [cell[0]["att_auroc"], cell[1]["att_auroc"]]
    assert s.baseline == cell[0]["att_auroc"] and s.tolerance == pytest.approx(0.05)
    assert ("oracle:@rationale", "paper", "lime", "seconds") not in by_key  # no gate rule: not drawn
    assert not any(k[3].endswith(("_n", "_min", "_max")) for k in by_key)
    assert pages.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = pages.html.read_text(encoding="utf-8")
    metrics = {k[3] for k in by_key}
    assert count_tags(html) == {"img": 1 + len(metrics), "table": 1 + len(metrics), "script": 0}
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img src="([^"]+)"', html))
    assert not re.search(r'(src|href)="(https?:)?//', html)
    # the newest run only
    assert [r.run_id for r in write_trend(tmp_path / "one", last=1, baseline=None, tracking_uri=uri).runs] == \
        [docs[1]["run"]["run_id"]]


def test_trend_cli_json_and_a_missing_experiment(two_runs, tmp_path):
    from click.testing import CliRunner

    from xai_bench.cli import main

    uri, (run0, _) = two_runs
    r = CliRunner().invoke(main, ["trend", "--tracking-uri", uri, "--baseline", str(run0), "--out",
                                  str(tmp_path / "t"), "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)  # JSON alone on stdout (MLflow progress goes to stderr)
    assert len(out["runs"]) == 2 and sum(out["counts"].values()) == len(out["series"]) > 0
    assert (tmp_path / "t" / "trend.html").is_file()
    r = CliRunner().invoke(main, ["trend", "--tracking-uri", uri, "--experiment", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "MLflow experiment 'nope' not found" in r.output


@pytest.mark.integration
def test_trend_page_renders_in_chromium(two_runs, tmp_path):
    from xai_bench.ops.trend import write_trend

    uri, (run0, _) = two_runs
    pages = write_trend(tmp_path / "t", last=5, baseline=run0, tracking_uri=uri)
    expected = count_tags(pages.html.read_text(encoding="utf-8"))
    check, shot = render_and_check(pages.html, "trend_html", tmp_path)
    assert check["images"] == check["images_ok"] == expected["img"] > 1, check
    assert check["tables"] == check["tables_shown"] == expected["table"], check
    assert check["cut"] == [], check["cut"]
    assert check["page_overflow"] <= 0, check
    assert ink_share(shot) > 0.02
