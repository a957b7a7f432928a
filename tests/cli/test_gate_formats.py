"""``xai-bench gate --format json|md``, ``--summary-md`` and ``$GITHUB_STEP_SUMMARY`` (issue 14, item 3)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.ops.test_gate import DS, G, M, base_cells, with_values, write_run
from xai_bench.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # as outside GitHub Actions, unless a test sets it


def failing_runs(tmp_path):
    cells = base_cells(n=10)
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", with_values(cells, G, "att_auroc", lambda v: v - 0.2))
    return base, cur


def test_json_on_stdout_is_the_verdict_file_and_nothing_else(runner, tmp_path):
    base, cur = failing_runs(tmp_path)
    result = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur), "--format", "json"])
    assert result.exit_code == 1, result.output
    printed = json.loads(result.stdout)  # the whole of stdout parses: no table, no status line
    assert printed == json.loads((cur / "gate.json").read_text())
    assert printed["verdict"] == "fail" and printed["exit_code"] == 1
    assert "gate FAILED" in result.stderr and "gate FAILED" not in result.stdout


def test_md_names_the_verdict_and_the_failing_row_first(runner, tmp_path):
    base, cur = failing_runs(tmp_path)
    result = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur), "--format", "md"])
    assert result.exit_code == 1, result.output
    md = result.stdout
    assert md.startswith("## xai-bench drift gate: FAILED\n")
    decided, rest = md.split("<details>", 1)
    (fail_line,) = [line for line in decided.splitlines() if line.startswith("| ") and "| fail |" in line]
    assert f"| {M} | {DS} | gsmile | att\\_auroc |" not in fail_line  # underscores inside words stay readable
    assert fail_line.startswith(f"| {M} | {DS} | gsmile | att_auroc |")
    assert "lies entirely beyond the tolerance" in fail_line
    n_rows = len(json.loads((cur / "gate.json").read_text())["rows"])
    assert f"All {n_rows} compared metrics" in rest and rest.rstrip().endswith("</details>")
    assert sum(line.startswith("| ") for line in rest.splitlines()) == n_rows + 1  # header + every row


def test_summary_md_file_and_step_summary_append(runner, tmp_path, monkeypatch):
    base, cur = failing_runs(tmp_path)
    step = tmp_path / "step_summary.md"
    step.write_text("## earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    summary = tmp_path / "out" / "gate.md"
    result = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur), "--summary-md", str(summary)])
    assert result.exit_code == 1, result.output
    assert "gate FAILED" in result.stdout  # the table format is unchanged
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## xai-bench drift gate: FAILED") and "| fail |" in text
    assert step.read_text(encoding="utf-8") == "## earlier step\n" + text  # appended, earlier steps kept

    # the same file for both: written once, by appending
    again = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur), "--force", "--summary-md", str(step)])
    assert again.exit_code == 1
    assert step.read_text(encoding="utf-8") == "## earlier step\n" + text + text


def test_unusable_input_still_leaves_a_summary(runner, tmp_path, monkeypatch):
    base, cur = failing_runs(tmp_path)
    (base / "per_prompt.csv").unlink()
    step = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    result = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1  # still one line on the terminal
    text = step.read_text(encoding="utf-8")
    assert text.startswith("## xai-bench drift gate: ERROR") and "per\\_prompt.csv" not in text
    assert str(base / "per_prompt.csv") in text.replace("\\", "")


def test_markdown_cells_cannot_break_the_table(runner, tmp_path):
    odd = "a|b <script>x</script> [l](http://x) *s*"
    cells = {(odd, DS, "gsmile"): base_cells(n=10)[G]}
    base = write_run(tmp_path / "base", cells)
    cur = write_run(tmp_path / "cur", cells)
    result = runner.invoke(main, ["gate", "-b", str(base), "-c", str(cur), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "<script>" not in result.stdout and "&lt;script&gt;" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "att_auroc" in line and line.startswith("| "))
    assert row.count(" | ") == 11  # 12 cells: the pipe inside the model name is escaped
    assert "a\\|b" in row and "\\[l\\](http://x)" in row and "\\*s\\*" in row
