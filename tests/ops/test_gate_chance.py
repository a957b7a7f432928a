"""The gate never judges agreement with human rationales where the model is not above chance."""

from __future__ import annotations

import json

import numpy as np

from xai_bench.ops.gate import compare, load_run
from tests.ops.test_gate import DS, G, M, base_cells, row, with_values, write_run


def _flag(folder, above: bool) -> None:
    doc = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    doc["task_accuracy"] = {M: {DS: {"task_accuracy": 0.3 if not above else 0.9, "task_accuracy_n": 10,
                                     "chance": 1 / 3, "above_chance_p": 0.7 if not above else 1e-4,
                                     "above_chance": above}}}
    (folder / "metrics.json").write_text(json.dumps(doc), encoding="utf-8")


def _gate(tmp_path, above_base: bool, above_cur: bool):
    cells = base_cells(n=10)
    old = [p["att_auroc"] for p in cells[G].values()]
    cur = with_values(cells, G, "att_auroc", [v - 0.3 for v in old])  # a clear regression
    cur = with_values(cur, G, "llm_calls", 40.0)  # and a cost regression, which is not plausibility
    b, c = write_run(tmp_path / "base", cells), write_run(tmp_path / "cur", cur)
    _flag(b, above_base)
    _flag(c, above_cur)
    return compare(load_run(b), load_run(c))


def test_plausibility_rows_of_a_cell_at_chance_are_information(tmp_path):
    report = _gate(tmp_path, above_base=True, above_cur=False)
    r = row(report, M, "gsmile", "att_auroc")
    assert r.verdict == "info"
    assert "not above chance" in r.reason and "would have been fail" in r.reason
    assert row(report, M, "gsmile", "llm_calls").verdict == "fail"  # other metrics are still gated
    assert report.verdict == "fail"


def test_a_flag_in_the_baseline_alone_also_stops_the_verdict(tmp_path):
    r = row(_gate(tmp_path, above_base=False, above_cur=True), M, "gsmile", "att_auroc")
    assert r.verdict == "info" and "baseline run" in r.reason


def test_above_chance_on_both_sides_is_judged(tmp_path):
    assert row(_gate(tmp_path, above_base=True, above_cur=True), M, "gsmile", "att_auroc").verdict == "fail"
