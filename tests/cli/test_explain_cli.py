"""``xai-bench explain`` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import xai_bench_cmd


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*xai_bench_cmd(), *args], capture_output=True, text=True, timeout=timeout)


def test_meaning_of_life_oracle(tmp_path):
    out = tmp_path / "OUT"
    r = run_cli("explain", "What is the meaning of life ?", "--model", "oracle:meaning,life",
                "--perturbations", "64", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "explanation.json").read_text())
    assert len(data["tokens"]) == len(data["attributions"]) == 7
    assert all(isinstance(a, (int, float)) for a in data["attributions"])
    ranked = sorted(range(7), key=lambda i: -data["attributions"][i])
    assert {data["tokens"][i] for i in ranked[:2]} == {"meaning", "life"}
    assert data["usage"]["llm_calls"] > 0 and "cost_usd" in data["usage"]
    html = (out / "heatmap.html").read_text()
    assert "meaning" in html and "http://" not in html and "https://" not in html
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "meaning" in r.stdout  # the top-token table


def test_method_all_writes_every_method(tmp_path):
    out = tmp_path / "cmp"
    r = run_cli("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "32",
                "--method", "all", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    for m in ("gsmile", "lime", "baylime"):
        assert json.loads((out / f"explanation_{m}.json").read_text())["method"] == m
    html = (out / "heatmap.html").read_text()
    assert all(m in html for m in ("gsmile", "lime", "baylime"))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["   ", "-m", "oracle:a"], "empty"),
        (["", "-m", "oracle:a"], "empty"),
        (["one two three four five", "-m", "oracle:a", "--max-features", "3"], "max_features=3"),
        (["hello world", "-m", "nosuchprovider-model-xyz"], "Unknown model"),
        (["hello world", "-m", "local/not-a-model"], "Unknown local model"),
        (["hello world", "-m", "control:empty"], "empty response"),
        (["hello world", "-m", "control:error"], "failed on the original prompt"),
        (["hello world", "-m", "oracle:a", "--perturbations", "1"], "n_perturbations"),
        (["hello world", "-m", "oracle:a", "--keep-prob", "1.5"], "keep_prob"),
        (["hello world", "-m", "oracle:a", "--sigma", "-1"], "sigma"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, args, needle):
    # in process (click's runner) to keep the suite fast; the exit code and stderr are the CLI's own
    from click.testing import CliRunner

    from xai_bench.cli import main

    r = CliRunner().invoke(main, ["explain", *args, "--out", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "explanation.json").exists()


def test_flaky_model_continues_and_records_failures(tmp_path):
    out = tmp_path / "flaky"
    # control/flaky-5 fails ~5% of prompts (by hash): under the 10% default share the run completes
    r = run_cli("explain", "alpha beta gamma delta epsilon zeta eta theta iota kappa", "-m", "control:flaky-5",
                "-j", "64", "-o", str(out), "-q", "--no-cache")
    data = json.loads((out / "explanation.json").read_text()) if r.returncode == 0 else None
    if r.returncode == 0:
        failed = [p for p in data["perturbations"] if p["error"]]
        assert all(not p["included"] for p in failed)
        assert data["usage"]["failed_calls"] == len({p["prompt"] for p in failed})
        assert all(isinstance(a, float) for a in data["attributions"])
    else:  # the original prompt itself was among the failures: a clear message, no traceback
        assert r.returncode == 2 and "Traceback" not in r.stderr


def test_every_command_has_help_with_an_example():
    from click.testing import CliRunner

    from xai_bench.cli import main

    runner = CliRunner()
    commands = main.list_commands(None)
    assert {"explain", "examples", "run", "gate", "audit", "models", "stage"} <= set(commands)
    for cmd in commands:
        r = runner.invoke(main, [cmd, "--help"])
        assert r.exit_code == 0, (cmd, r.output)
        assert "Example" in r.output and "xai-bench" in r.output, cmd


def test_prompt_words_are_not_read_as_terminal_markup(tmp_path):
    """Issue 12, item 1: '[/bold]' in a prompt used to end in a rich MarkupError after the work was done."""
    out = tmp_path / "markup"
    r = run_cli("explain", "What is [/bold] the meaning of [link=http://x]life[/link] ?", "-m",
                "oracle:meaning,life", "-j", "16", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "MarkupError" not in r.stderr and "Traceback" not in r.stderr
    assert "[/bold]" in r.stdout  # printed literally, not swallowed as markup
    assert "[link=http://x]life[/link]" in r.stdout
    assert (out / "explanation.json").is_file()


def test_unwritable_out_is_one_line_before_any_model_call(tmp_path):
    """Issue 12, item 2: an unusable --out used to be a traceback after every model call."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    cache = tmp_path / "cache" / "responses.sqlite"
    r = run_cli("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "16",
                "--out", str(blocker / "sub"), "--cache", str(cache))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert str(blocker / "sub") in r.stderr and "not writable" in r.stderr
    assert not cache.exists()  # refused before the cache was opened and before any model call


def test_unwritable_cache_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    r = run_cli("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "16",
                "--out", str(tmp_path / "out"), "--cache", str(blocker / "responses.sqlite"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "response cache" in r.stderr and str(blocker) in r.stderr


def test_dotdot_in_out_creates_no_stray_folder(tmp_path):
    r = run_cli("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "16", "-q",
                "--out", str(tmp_path / "a" / ".." / "b"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "explanation.json").is_file()
    assert not (tmp_path / "a").exists()


def test_run_with_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    r = run_cli("run", "--config", "configs/oracle-smoke.yaml", "--limit", "1", "-q", "--out", str(blocker / "run"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and str(blocker / "run") in r.stderr and "not writable" in r.stderr


@pytest.mark.parametrize("spec", ["control:flaky-abc", "control:flaky-", "control:noisy-5", "control:bogus"])
def test_malformed_control_model_is_a_model_string_error(tmp_path, spec):
    """Issue 12, item 4: 'control:flaky-abc' used to surface as an APIConnectionError per call."""
    r = run_cli("explain", "hello world", "-m", spec, "-j", "8", "-o", str(tmp_path / "o"), "-q", "--no-cache")
    assert r.returncode == 2, r.stderr
    assert f"Malformed control model {spec!r}" in r.stderr and "control:flaky-<pct>" in r.stderr
    assert "APIConnectionError" not in r.stderr and "Traceback" not in r.stderr
