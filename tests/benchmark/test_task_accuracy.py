"""Task accuracy with its chance level, and the not-above-chance flag (report and gate)."""

from __future__ import annotations

import pytest

from xai_bench.benchmark.task_accuracy import chance_notes, task_accuracy


def _rows(model: str, correct: int, n: int, n_labels: int = 3) -> list[dict]:
    return [{"model": model, "dataset": "hx", "example_id": f"e{i}", "label": "a", "parsed": "a" if i < correct else "b",
             "correct": i < correct, "n_labels": n_labels} for i in range(n)]


def test_chance_is_one_over_the_label_count_and_flags_a_model_at_chance():
    acc = task_accuracy(_rows("local/m", 10, 30), 0.95)["local/m"]["hx"]  # 1/3 correct: exactly chance
    assert acc["chance"] == pytest.approx(1 / 3)
    assert acc["above_chance"] is False and acc["above_chance_p"] > 0.05
    good = task_accuracy(_rows("local/m", 25, 30), 0.95)["local/m"]["hx"]
    assert good["above_chance"] is True and good["above_chance_p"] < 0.001
    notes = chance_notes({"local/m": {"hx": acc}})
    assert len(notes) == 1 and "local/m / hx" in notes[0] and "0.333" in notes[0]


def test_small_n_above_the_chance_rate_is_not_yet_above_chance():
    # 2 of 3 correct is above 1/3 as a rate but is no evidence (p = 0.26)
    acc = task_accuracy(_rows("local/m", 2, 3), 0.95)["local/m"]["hx"]
    assert acc["task_accuracy"] > acc["chance"] and acc["above_chance"] is False


def test_control_models_get_no_flag():
    acc = task_accuracy(_rows("oracle:@rationale", 0, 30), 0.95)["oracle:@rationale"]["hx"]
    assert "chance" not in acc and "above_chance" not in acc
    assert chance_notes({"oracle:@rationale": {"hx": acc}}) == []


def test_mixed_label_set_sizes_average_their_chance():
    rows = _rows("local/m", 0, 2, n_labels=2) + _rows("local/m", 0, 2, n_labels=4)
    assert task_accuracy(rows, 0.95)["local/m"]["hx"]["chance"] == pytest.approx((1 / 2 + 1 / 4) / 2)


def test_calibration_entry_and_report_section_with_its_reliability_diagram(tmp_path):
    from xai_bench.benchmark.task_accuracy import calibration_section

    rows = _rows("local/m", 6, 10)
    for i, r in enumerate(rows):
        r["label_probs"] = {"a": 0.7, "b": 0.2, "c": 0.1} if i % 2 else {"a": 0.2, "b": 0.7, "c": 0.1}
    acc = task_accuracy(rows, 0.95)
    cal = acc["local/m"]["hx"]["calibration"]
    assert cal["n"] == 10 and cal["accuracy"] == pytest.approx(0.5)  # gold is always "a"
    assert cal["ece"] == pytest.approx(abs(0.5 - 0.7))
    lines = calibration_section(acc, tmp_path)
    png = next(tmp_path.glob("calibration/*/hx.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(png.relative_to(tmp_path).as_posix() in ln for ln in lines)
    assert calibration_section(task_accuracy(_rows("local/m", 6, 10), 0.95), tmp_path / "none") == []
