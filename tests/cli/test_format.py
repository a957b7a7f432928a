"""xai_bench/cli/_format.py: stdout kept for the one document, Markdown escaping, table blocks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from xai_bench.cli._format import Block, md_escape, md_table, render_md

_SCRIPT = textwrap.dedent("""
    import logging, os, sys
    from xai_bench.cli._format import stdout_to_stderr
    log = logging.getLogger("lib")
    log.addHandler(logging.StreamHandler(sys.stdout))  # holds the original stdout, as a library's handler may
    log.setLevel(logging.INFO)
    with stdout_to_stderr():
        print("a print")
        log.info("a log line")
        os.write(1, b"native code on descriptor 1\\n")
        from rich.console import Console
        Console().print("a rich line")
    print('{"doc": 1}')
""")


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_everything_written_meanwhile_goes_to_stderr(unbuffered):
    env = {"PYTHONUNBUFFERED": unbuffered, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == '{"doc": 1}\n'
    for line in ("a print", "a log line", "native code on descriptor 1", "a rich line"):
        assert line in r.stderr


def test_md_escape_keeps_a_cell_a_cell():
    assert md_escape("att_auroc") == "att_auroc"  # GFM ignores underscores inside words
    assert md_escape("_x_ a|b *c* [l](u) `k` <b>&") == "\\_x\\_ a\\|b \\*c\\* \\[l\\](u) \\`k\\` &lt;b&gt;&amp;"
    assert md_escape("two\nlines\x1b") == "two lines\\\\x1b"
    table = md_table(["name", "n"], [["a|b", "1"]], right=frozenset({"n"}))
    assert table.splitlines() == ["| name | n |", "|---|---:|", "| a\\|b | 1 |"]


def test_render_md_and_block_shape():
    text = render_md([Block("m / d", ["method", "AUROC"], [["gsmile", "0.900"]], notes=["note: x"])], "run")
    assert text == "## run\n\n### m / d\n\n| method | AUROC |\n|---|---|\n| gsmile | 0.900 |\n\n- note: x\n"
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        Block("t", ["a", "b"], [["only one"]])
