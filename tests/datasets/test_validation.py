"""Every kind of malformed row gets a report that names the row's id and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xai_bench.datasets import Example, load_dataset
from xai_bench.errors import DataValidationError
from xai_bench.datasets.validation import CHECKS, ValidationReport, require_valid, validate_dataset


def row(i: int, **changes) -> dict:
    base = {
        "id": f"toy/{i}",
        "dataset": "toy",
        "task": "classification",
        "template": "Label this: {text}\nAnswer:",
        "words": ["a", "very", "bad", "post"],
        "rationale": [0, 0, 1, 0],
        "label": "bad",
        "label_set": ["bad", "good"],
        "provenance": {"source": "test", "licence": "CC0", "ref": f"row {i}"},
    }
    base.update(changes)
    return base


def write(tmp_path: Path, rows: list, name: str = "toy") -> Path:
    path = tmp_path / f"{name}.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def failing(path: Path) -> ValidationReport:
    with pytest.raises(DataValidationError) as info:
        load_dataset(path)
    report = info.value.report
    assert isinstance(report, ValidationReport) and not report.success
    assert str(info.value) == report.format()
    return report


def assert_names(report: ValidationReport, check: str, row_id: str, line: int) -> None:
    hits = [f for f in report.failures if f.expectation.split(" ")[0] == check]
    assert hits, f"no {check!r} failure in:\n{report.format()}"
    assert (line, row_id) in set(zip(hits[0].lines, hits[0].ids)), report.format()
    assert f"line {line}, id {row_id!r}" in report.format()


def test_valid_rows_pass(tmp_path):
    ds = load_dataset(write(tmp_path, [row(1), row(2), row(3, rationale=None)]))
    assert len(ds) == 3 and ds.lines == (1, 2, 3)
    report = validate_dataset(ds)
    assert report.success and report.n_rows == 3
    assert set(report.checks) >= {"id_unique", "rationale_length", "label_in_label_set", "words_non_empty"}
    assert "passed" in report.format()


def test_missing_rationale_key(tmp_path):
    bad = row(2)
    del bad["rationale"]
    report = failing(write(tmp_path, [row(1), bad, row(3)]))
    assert_names(report, "row_schema", "toy/2", 2)
    assert "'rationale'" in report.format()


def test_rationale_of_wrong_length(tmp_path):
    report = failing(write(tmp_path, [row(1), row(2), row(3, rationale=[0, 1])]))
    assert_names(report, "rationale_length", "toy/3", 3)
    assert report.failing_ids == {"toy/3"}


def test_empty_words(tmp_path):
    report = failing(write(tmp_path, [row(1, words=[], rationale=None), row(2)]))
    assert_names(report, "words_non_empty", "toy/1", 1)


def test_word_with_whitespace(tmp_path):
    report = failing(write(tmp_path, [row(1), row(2, words=["a", "very bad", "", "post"])]))
    assert_names(report, "words_whitespace_free", "toy/2", 2)


def test_duplicate_id(tmp_path):
    report = failing(write(tmp_path, [row(1), row(2), row(3, id="toy/1")]))
    assert_names(report, "id_unique", "toy/1", 1)
    assert_names(report, "id_unique", "toy/1", 3)
    assert report.failing_lines == {1, 3}


def test_label_not_in_label_set(tmp_path):
    report = failing(write(tmp_path, [row(1), row(2, label="ugly")]))
    assert_names(report, "label_in_label_set", "toy/2", 2)


def test_claimed_rationale_without_ones(tmp_path):
    report = failing(write(tmp_path, [row(1, rationale=[0, 0, 0, 0]), row(2)]))
    assert_names(report, "rationale_has_evidence", "toy/1", 1)


def test_rationale_values_other_than_0_1(tmp_path):
    report = failing(write(tmp_path, [row(1), row(2, rationale=[0, 2, 1, 0])]))
    assert_names(report, "rationale_binary", "toy/2", 2)


def test_unparseable_json_line(tmp_path):
    report = failing(write(tmp_path, [row(1), '{"id": "toy/2", "words": [', row(3)]))
    assert_names(report, "parse_json", "?", 2)


def test_blank_line_is_reported(tmp_path):
    report = failing(write(tmp_path, [row(1), "", row(3)]))
    assert_names(report, "parse_json", "?", 2)


def test_wrong_types_and_unknown_keys(tmp_path):
    report = failing(write(tmp_path, [row(1, words="a very bad post"), row(2, rationale=["1", 0, 0, 0], extra=1)]))
    assert_names(report, "row_schema", "toy/1", 1)
    assert_names(report, "row_schema", "toy/2", 2)
    text = report.format()
    assert "'words' must be a list of strings" in text and "unknown key(s) 'extra'" in text


def test_template_must_have_one_slot(tmp_path):
    report = failing(write(tmp_path, [row(1, template="No slot here"), row(2)]))
    assert_names(report, "template_one_slot", "toy/1", 1)


def test_choice_task_needs_a_label_set(tmp_path):
    report = failing(write(tmp_path, [row(1, label=None, label_set=None), row(2, task="generation", label=None, label_set=None)]))
    assert_names(report, "label_set_for_choice_tasks", "toy/1", 1)
    assert report.failing_ids == {"toy/1"}


def test_unknown_task(tmp_path):
    report = failing(write(tmp_path, [row(1, task="summarise")]))
    assert_names(report, "task_known", "toy/1", 1)


def test_all_failures_in_one_report(tmp_path):
    report = failing(write(tmp_path, ["not json", row(2, rationale=[1]), row(3, label="x"), row(2)]))
    checks = {f.expectation.split(" ")[0] for f in report.failures}
    assert {"parse_json", "rationale_length", "label_in_label_set", "id_unique"} <= checks
    assert report.n_rows == 4


def test_dataset_rules_require_rationale(tmp_path):
    rows = [row(1, dataset="hatexplain", rationale=None), row(2, dataset="hatexplain")]
    report = validate_dataset(rows, "hatexplain")
    assert not report.success
    assert_names(report, "rationale_required", "toy/1", 1)
    assert validate_dataset(rows, "mmlu").success


def test_validate_raw_rows_and_examples():
    rows = [row(1), {"id": "toy/2"}, row(3, rationale=[1, 1])]
    report = validate_dataset(rows, "toy")
    assert_names(report, "row_schema", "toy/2", 2)
    assert_names(report, "rationale_length", "toy/3", 3)
    examples = [Example.from_dict(row(i)) for i in (1, 2)]
    assert require_valid(examples, "toy").success


def test_require_valid_message_is_readable():
    with pytest.raises(DataValidationError) as info:
        require_valid([row(1), row(1)], "toy")
    msg = str(info.value)
    assert msg.splitlines()[0] == "Data set 'toy' is invalid: 1 check(s) failed on 2 rows."
    assert "ids are unique" in msg and "line 2, id 'toy/1'" in msg and "prepare" in msg


def test_every_check_has_a_description():
    for name, (cls_name, kwargs, description) in CHECKS.items():
        assert cls_name.startswith("Expect") and description and kwargs, name
