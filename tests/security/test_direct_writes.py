"""Files the CLI writes outside the run-folder writer (gate.json, the gate's Markdown summary)
go through the same redaction of known credentials (issue 12, item 1)."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from tests.ops.test_gate import DS, M, prompts, write_run

KEY = "sk-leaktest-GATE-4f1d2c3b5a6e7f8091a2b3c4"


def test_gate_json_and_summary_never_hold_a_known_credential(tmp_path, monkeypatch):
    from xai_bench.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rng = np.random.default_rng(0)
    # an example id that happens to carry the credential (e.g. pasted into a data set)
    cells = {(M, DS, "gsmile"): {f"{KEY}-{i}": row for i, row in
                                 enumerate(prompts(6, att_auroc=rng.uniform(0.5, 1, 6)).values())}}
    fewer = {k: dict(list(v.items())[1:]) for k, v in cells.items()}  # a prompt went missing: its id is named
    base, cur = write_run(tmp_path / "base", cells), write_run(tmp_path / "cur", fewer)
    out, summary = tmp_path / "gate.json", tmp_path / "gate.md"
    r = CliRunner().invoke(main, ["gate", "-b", str(base / "metrics.json"), "-c", str(cur / "metrics.json"), "--out", str(out),
                                  "--summary-md", str(summary)])
    assert r.exit_code == 1, r.output  # the missing prompt fails the gate
    for f in (out, summary):
        text = f.read_text(encoding="utf-8")
        assert KEY not in text and "-0" in text  # the id is named, its credential part masked
    assert KEY not in r.output
