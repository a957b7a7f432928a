"""``xai-bench gate``: exit codes 0 / 1 / 2, the printed table and the verdict JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xai_bench.cli import main
from tests.test_gate import M, metrics_doc, with_value


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(path, doc) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def gate(runner, *args):
    return runner.invoke(main, ["gate", *args], catch_exceptions=False)


def test_equal_files_exit_0_and_write_gate_json_next_to_current(runner, tmp_path):
    base = write(tmp_path / "base" / "metrics.json", metrics_doc())
    cur = write(tmp_path / "cur" / "metrics.json", metrics_doc())
    result = gate(runner, "--baseline", base, "--current", cur)
    assert result.exit_code == 0, result.output
    assert "gate PASSED" in result.output
    assert "att_auroc" in result.output and "pass" in result.output
    verdict = json.loads((tmp_path / "cur" / "gate.json").read_text())
    assert verdict["passed"] is True and verdict["counts"]["fail"] == 0


def test_auroc_drop_beyond_threshold_exits_1(runner, tmp_path):
    base = write(tmp_path / "base.json", metrics_doc())
    cur = write(tmp_path / "cur.json", with_value(metrics_doc(), M, "gsmile", "att_auroc", 0.80))
    out = tmp_path / "verdict" / "v.json"
    result = gate(runner, "-b", base, "-c", cur, "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "gate FAILED" in result.output and "fail" in result.output
    verdict = json.loads(out.read_text())
    (failed,) = [r for r in verdict["rows"] if r["verdict"] == "fail"]
    assert (failed["model"], failed["method"], failed["metric"]) == (M, "gsmile", "att_auroc")
    assert failed["baseline"] == 0.91 and failed["current"] == 0.80


def test_auroc_drop_within_threshold_exits_0(runner, tmp_path):
    base = write(tmp_path / "base.json", metrics_doc())
    cur = write(tmp_path / "cur.json", with_value(metrics_doc(), M, "gsmile", "att_auroc", 0.88))
    assert gate(runner, "-b", base, "-c", cur).exit_code == 0


def test_lower_is_better_regression_exits_1(runner, tmp_path):
    base = write(tmp_path / "base.json", metrics_doc())
    cur = write(tmp_path / "cur.json", with_value(metrics_doc(), M, "lime", "fidelity_wmse", 0.05))
    assert gate(runner, "-b", base, "-c", cur).exit_code == 1
    better = write(tmp_path / "better.json", with_value(metrics_doc(), M, "lime", "fidelity_wmse", 0.001))
    assert gate(runner, "-b", base, "-c", better).exit_code == 0


def test_missing_metric_exits_1(runner, tmp_path):
    base = write(tmp_path / "base.json", metrics_doc())
    doc = metrics_doc()
    del doc["results"]["oracle:meaning,life"]
    cur = write(tmp_path / "cur.json", doc)
    result = gate(runner, "-b", base, "-c", cur)
    assert result.exit_code == 1
    assert "missing" in result.output


def test_per_model_override_from_thresholds_file(runner, tmp_path):
    base = write(tmp_path / "base.json", metrics_doc())
    cur = write(tmp_path / "cur.json", with_value(metrics_doc(), M, "gsmile", "att_auroc", 0.83))
    loose = tmp_path / "t.yaml"
    loose.write_text('defaults:\n  att_auroc: {max_abs_drop: 0.05}\n'
                     'overrides:\n  - model: "local/*"\n    metrics:\n      att_auroc: {max_abs_drop: 0.1}\n')
    assert gate(runner, "-b", base, "-c", cur).exit_code == 1
    assert gate(runner, "-b", base, "-c", cur, "--thresholds", str(loose)).exit_code == 0


@pytest.mark.parametrize(
    ("which", "content", "fragment"),
    [
        ("baseline", None, "file not found"),
        ("current", None, "file not found"),
        ("baseline", "{truncated", "invalid JSON"),
        ("current", '{"schema_version": 1, "results": []}', "'results'"),
        ("thresholds", "defaults: {att_auroc: {max_abs_drop: -1}}", "must be >= 0"),
        ("thresholds", None, "thresholds file not found"),
    ],
)
def test_unusable_input_exits_2_with_one_line(runner, tmp_path, which, content, fragment):
    paths = {"baseline": tmp_path / "base.json", "current": tmp_path / "cur.json", "thresholds": tmp_path / "t.yaml"}
    write(paths["baseline"], metrics_doc())
    write(paths["current"], metrics_doc())
    if content is None:
        paths[which].unlink(missing_ok=True)
    else:
        write(paths[which], content)
    args = ["-b", str(paths["baseline"]), "-c", str(paths["current"])]
    if which == "thresholds":
        args += ["--thresholds", str(paths["thresholds"])]
    result = gate(runner, *args)
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert str(paths[which]) in message and fragment in message
    assert "Traceback" not in message


def test_help_shows_an_example(runner):
    result = runner.invoke(main, ["gate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "xai-bench gate --baseline" in result.output
