"""``xai-bench gate``: exit codes 0 / 1 / 2 / 3, --allow-insufficient, the table and the verdict JSON."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from tests.ops.test_gate import DS, G, M, base_cells, prompts, with_values, write_run
from xai_bench.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def gate(runner, *args):
    return runner.invoke(main, ["gate", *args], catch_exceptions=False)


def test_identical_runs_exit_0_and_write_gate_json_in_the_current_folder(runner, tmp_path):
    base = write_run(tmp_path / "base", base_cells())
    cur = write_run(tmp_path / "cur", base_cells())
    result = gate(runner, "--baseline", str(base), "--current", str(cur))  # folders
    assert result.exit_code == 0, result.output
    assert "gate PASSED" in result.output
    assert "att_auroc" in result.output and "[+0, +0]" in result.output
    verdict = json.loads((tmp_path / "cur" / "gate.json").read_text())
    assert verdict["verdict"] == "pass" and verdict["exit_code"] == 0 and verdict["counts"]["fail"] == 0
    auroc = next(r for r in verdict["rows"] if r["metric"] == "att_auroc" and r["method"] == "gsmile")
    assert (auroc["n_pairs"], auroc["mean_worse"], auroc["ci_low"], auroc["tolerance"]) == (8, 0, 0, 0.05)


def test_metrics_json_paths_work_and_gate_json_goes_beside_them(runner, tmp_path):
    base = write_run(tmp_path / "base", base_cells())
    cur = write_run(tmp_path / "cur", base_cells())
    result = gate(runner, "-b", str(base / "metrics.json"), "-c", str(cur / "metrics.json"))
    assert result.exit_code == 0, result.output
    assert json.loads((cur / "gate.json").read_text())["verdict"] == "pass"


def test_regression_on_enough_prompts_exits_1(runner, tmp_path):
    cells = base_cells(n=10)
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, G, "att_auroc", lambda v: v - 0.2))
    out = tmp_path / "verdict" / "v.json"
    result = gate(runner, "-b", str(base), "-c", str(cur), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "gate FAILED" in result.output and "lies entirely beyond the tolerance" in result.output
    verdict = json.loads(out.read_text())
    assert verdict["verdict"] == "fail" and verdict["exit_code"] == 1
    (failed,) = [r for r in verdict["rows"] if r["verdict"] == "fail"]
    assert (failed["model"], failed["method"], failed["metric"]) == (M, "gsmile", "att_auroc")
    assert failed["mean_worse"] == pytest.approx(0.2) and failed["ci_low"] == pytest.approx(0.2)


def test_two_prompt_noise_exits_3_unless_allowed(runner, tmp_path):
    base_cells_ = {G: prompts(2, stability_jaccard=1.0, llm_calls=17.0)}
    base = write_run(tmp_path / "base", base_cells_)
    cur = write_run(tmp_path / "cur", with_values(base_cells_, G, "stability_jaccard", [1.0, 0.67]))
    result = gate(runner, "-b", str(base), "-c", str(cur))
    assert result.exit_code == 3, result.output
    assert "gate INSUFFICIENT" in result.output and "--allow-insufficient" in result.output
    assert "fewer than min_prompts 5" in result.output
    assert json.loads((cur / "gate.json").read_text())["verdict"] == "insufficient"

    allowed = gate(runner, "-b", str(base), "-c", str(cur), "--allow-insufficient", "--force")
    assert allowed.exit_code == 0, allowed.output
    assert "gate INSUFFICIENT" in allowed.output
    verdict = json.loads((cur / "gate.json").read_text())
    assert (verdict["verdict"], verdict["exit_code"], verdict["allow_insufficient"]) == ("insufficient", 0, True)


def test_allow_insufficient_does_not_hide_a_failure(runner, tmp_path):
    cells = {G: prompts(2, att_auroc=0.9), ("m2", DS, "gsmile"): prompts(6, att_auroc=0.9)}
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, ("m2", DS, "gsmile"), "att_auroc", 0.5))
    assert gate(runner, "-b", str(base), "-c", str(cur), "--allow-insufficient").exit_code == 1


@pytest.mark.parametrize("broken", [None, math.nan])
def test_null_or_nan_baseline_value_exits_1(runner, tmp_path, broken):
    cells = base_cells()
    base = write_run(tmp_path / "base", cells, aggregate={(M, DS, "gsmile", "att_f1"): broken})
    assert ("null" if broken is None else "NaN") in (base / "metrics.json").read_text()
    cur = write_run(tmp_path / "cur", with_values(cells, G, "att_f1", 0.3))
    result = gate(runner, "-b", str(base), "-c", str(cur))
    assert result.exit_code == 1, result.output
    assert "baseline metrics.json value is" in result.output
    rows = json.loads((cur / "gate.json").read_text())["rows"]
    (failed,) = [r for r in rows if r["verdict"] == "fail"]
    assert (failed["model"], failed["metric"], failed["baseline"]) == (M, "att_f1", None)


def test_seconds_alone_never_fails(runner, tmp_path):
    cells = base_cells()
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, G, "seconds", lambda v: v * 5))
    result = gate(runner, "-b", str(base), "-c", str(cur))
    assert result.exit_code == 0, result.output
    rows = json.loads((cur / "gate.json").read_text())["rows"]
    seconds = next(r for r in rows if r["metric"] == "seconds" and r["method"] == "gsmile")
    assert seconds["verdict"] == "info" and seconds["ci_low"] > 0


def test_missing_prompt_exits_1(runner, tmp_path):
    cells = base_cells()
    base = write_run(tmp_path / "base", cells)
    del cells[G]["p03"]
    cur = write_run(tmp_path / "cur", cells)
    result = gate(runner, "-b", str(base), "-c", str(cur))
    assert result.exit_code == 1
    assert "missing" in result.output and "p03" in result.output


def test_per_model_override_from_thresholds_file(runner, tmp_path):
    cells = base_cells(n=10)
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, G, "att_auroc", lambda v: v - 0.08))
    loose = tmp_path / "t.yaml"
    loose.write_text('defaults:\n  att_auroc: {max_abs_drop: 0.05}\n'
                     'overrides:\n  - model: "local/*"\n    metrics:\n      att_auroc: {max_abs_drop: 0.1}\n')
    assert gate(runner, "-b", str(base), "-c", str(cur)).exit_code == 1
    assert gate(runner, "-b", str(base), "-c", str(cur), "--thresholds", str(loose), "--force").exit_code == 0


def test_missing_per_prompt_csv_exits_2_saying_where_and_how(runner, tmp_path):
    base = write_run(tmp_path / "baseline", base_cells())
    cur = write_run(tmp_path / "cur", base_cells())
    (base / "per_prompt.csv").unlink()
    result = gate(runner, "-b", str(base / "metrics.json"), "-c", str(cur))
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert str(base / "per_prompt.csv") in message and "xai-bench run --config CONFIG --out DIR" in message


@pytest.mark.parametrize(
    ("which", "content", "fragment"),
    [
        ("baseline", None, "file not found"),
        ("current", None, "file not found"),
        ("baseline", "{truncated", "invalid JSON"),
        ("current", '{"schema_version": 1, "results": []}', "'results'"),
        ("per_prompt", "model,dataset,method,example_id,att_auroc\nm,d,x,p1,high\n", "expected a number"),
        ("thresholds", "defaults: {att_auroc: {max_abs_drop: -1}}", "must be >= 0"),
        ("thresholds", "min_prompts: 1", "'min_prompts' must be an integer >= 2"),
        ("thresholds", None, "thresholds file not found"),
    ],
)
def test_unusable_input_exits_2_with_one_line(runner, tmp_path, which, content, fragment):
    base = write_run(tmp_path / "base", base_cells())
    cur = write_run(tmp_path / "cur", base_cells())
    paths = {"baseline": base / "metrics.json", "current": cur / "metrics.json", "thresholds": tmp_path / "t.yaml",
             "per_prompt": cur / "per_prompt.csv"}
    if content is None:
        paths[which].unlink(missing_ok=True)
    else:
        paths[which].write_text(content)
    args = ["-b", str(paths["baseline"]), "-c", str(paths["current"])]
    if which == "thresholds":
        args += ["--thresholds", str(paths["thresholds"])]
    result = gate(runner, *args)
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert str(paths[which]) in message and fragment in message
    assert "Traceback" not in message


def test_help_shows_exit_codes_and_an_example(runner):
    result = runner.invoke(main, ["gate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "xai-bench gate --baseline" in result.output
    assert "--allow-insufficient" in result.output and "3  insufficient" in result.output


def test_an_existing_verdict_is_not_overwritten_without_force(runner, tmp_path):
    """Issue 12, item 5: gate used to overwrite a run's recorded gate.json silently."""
    base = write_run(tmp_path / "base", base_cells())
    cur = write_run(tmp_path / "cur", base_cells())
    recorded = cur / "gate.json"
    recorded.write_text('{"recorded": true}\n')
    for out in ([], ["--out", str(recorded)]):  # the default place and an explicit --out
        result = gate(runner, "-b", str(base), "-c", str(cur), *out)
        assert result.exit_code == 2, result.output
        assert "exists already" in result.output and "--force" in result.output and str(recorded) in result.output
        assert json.loads(recorded.read_text()) == {"recorded": True}
    result = gate(runner, "-b", str(base), "-c", str(cur), "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(recorded.read_text())["verdict"] == "pass"


def test_markup_in_model_names_is_printed_literally(runner, tmp_path):
    """Issue 12, item 1: model/data/method names reach the gate table and failure lines as text, not markup."""
    odd = "[/bold]odd[link=http://x]m[/link]"
    cells = {(odd, DS, "gsmile"): prompts(10, att_auroc=[0.9, 0.8, 0.85, 0.95, 0.9, 0.88, 0.92, 0.87, 0.9, 0.91])}
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, (odd, DS, "gsmile"), "att_auroc", lambda v: v - 0.3))
    result = gate(runner, "-b", str(base), "-c", str(cur))
    assert result.exit_code == 1, result.output
    assert f"fail: {odd} / {DS} / gsmile / att_auroc" in result.output.replace("\n", "")
