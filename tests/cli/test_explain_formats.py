"""``xai-bench explain --format table|json|md`` and ``explain`` without ``--out`` (issue 14, item 3).

The JSON tests run the real command in a subprocess: only there is stdout the process's own
file descriptor, where a stray progress bar or log line would break ``json.load``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import xai_bench_cmd
from xai_bench.cli import main

PROMPT = "What is the meaning of life ?"
ORACLE = "oracle:meaning,life"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*xai_bench_cmd(), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_printed_json_is_explanation_json(tmp_path):
    out = tmp_path / "out"
    r = run_cli("explain", PROMPT, "-m", ORACLE, "-j", "16", "--seed", "3", "--out", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)  # stdout is the document and nothing else
    assert printed == json.loads((out / "explanation.json").read_text(encoding="utf-8"))
    assert r.stdout == (out / "explanation.json").read_text(encoding="utf-8")  # byte for byte
    assert printed["method"] == "gsmile" and printed["tokens"] == PROMPT.split()
    assert f"wrote {out / 'explanation.json'}" in r.stderr  # the status line goes to stderr


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_without_out_nothing_is_written_but_the_response_cache(tmp_path):
    """Decision (README): the response cache is the one write of ``explain`` without ``--out``, and only
    at its documented place ($XAI_BENCH_CACHE_DIR, else ~/.cache/xai-bench/responses.sqlite);
    ``--no-cache`` writes nothing at all. HOME, the working directory and TMPDIR are empty
    temporary folders, so any other write (matplotlib, Hugging Face, MLflow, a heatmap) shows.
    The first run is the issue's example: ``explain ... --format json | python -c 'json.load(sys.stdin)'``."""
    cwd, home, xhome, tmp = (tmp_path / n for n in ("cwd", "home", "xhome", "tmp"))
    for d in (cwd, home, xhome, tmp):
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XAI_BENCH_CACHE_DIR", "MPLCONFIGDIR")}
    env.update(HOME=str(home), XAI_BENCH_HOME=str(xhome), TMPDIR=str(tmp))

    cmd = " ".join(f"'{a}'" for a in [*xai_bench_cmd(), "explain", PROMPT, "-m", ORACLE, "-j", "16", "--format", "json"])
    reader = f"{sys.executable} -c 'import json,sys; d = json.load(sys.stdin); print(d[\"tokens\"][3])'"
    r = subprocess.run(f"set -o pipefail; {cmd} | {reader}", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "meaning\n"
    written = _files(tmp_path)
    cache = {f for f in written if f.startswith("home/.cache/xai-bench/responses.sqlite")}
    assert "home/.cache/xai-bench/responses.sqlite" in cache, written  # the cache is in use ...
    assert written == cache, sorted(written - cache)  # ... and nothing else was written anywhere

    for p in sorted(home.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    r = run_cli("explain", PROMPT, "-m", ORACLE, "-j", "16", "--no-cache", cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    assert "method gsmile" in r.stdout and "nothing written" in r.stdout
    assert _files(tmp_path) == set()


def test_method_all_says_which_method_each_block_shows(tmp_path):
    result = CliRunner().invoke(main, ["explain", PROMPT, "-m", ORACLE, "-j", "16", "--method", "all", "-q",
                                       "--format", "md"])
    assert result.exit_code == 0, result.output
    headings = [line for line in result.stdout.splitlines() if line.startswith("### ")]
    assert [h.split()[2] for h in headings] == ["gsmile", "lime", "baylime"]
    assert all(f"on {ORACLE}: top 7 of 7 words" in h for h in headings)
    assert result.stdout.startswith(f"## prompt: {PROMPT} \\| response: ")

    table = CliRunner().invoke(main, ["explain", PROMPT, "-m", ORACLE, "-j", "16", "--method", "all"])
    assert table.exit_code == 0, table.output
    text = table.stdout
    at = [text.index(f"method {m} on {ORACLE}") for m in ("gsmile", "lime", "baylime")]
    assert at == sorted(at)  # one titled block per method, in order
    assert all(f"{m}: weighted R^2" in text for m in ("gsmile", "lime", "baylime"))


def test_method_all_json_is_an_array_of_the_per_method_files(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["explain", PROMPT, "-m", ORACLE, "-j", "16", "--method", "lime",
                                       "--method", "gsmile", "-o", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert [e["method"] for e in printed] == ["lime", "gsmile"]
    for e in printed:
        assert e == json.loads((out / f"explanation_{e['method']}.json").read_text(encoding="utf-8"))
    assert printed[0] == json.loads((out / "explanation.json").read_text(encoding="utf-8"))
