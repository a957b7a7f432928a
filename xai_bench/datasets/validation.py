"""Great Expectations suites for the benchmark data sets, and readable reports.

Each data set is checked by a GX 1.x expectation suite named ``xai_bench.<name>`` in an
ephemeral context (no files, progress bars off). The rows go into a pandas frame with a
few derived columns, one row per example:

    line            line number in the file (1-based), the index GX reports back
    n_words         number of feature words
    n_bad_words     words that are empty or contain whitespace
    template_slots  occurrences of "{text}" in the template
    rationale_len   length of the rationale (null when there is none)
    rationale_sum   number of 1s in the rationale (null when there is none)
    rationale_nonbinary  entries other than 0 and 1 (null when there is none)
    label_set_size  number of allowed labels (0 when null)
    label_in_set    whether the label is in the label set (null when either is null)

and the verdict is the GX result: a check passes only if its expectation succeeds.
Rows that cannot even be read (bad JSON, missing keys, wrong types) are caught before, by
:func:`xai_bench.datasets.load_dataset`, and reported in the same form.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import DataValidationError
from ..explain.features import TEXT_SLOT
from .records import TASKS, Dataset, Example, row_problems

__all__ = [
    "ValidationFailure",
    "ValidationReport",
    "CHECKS",
    "DATASET_RULES",
    "validate_dataset",
    "require_valid",
]

FRAME_COLUMNS = (
    "line", "id", "dataset", "task", "label", "n_words", "n_bad_words", "template_slots",
    "rationale_len", "rationale_sum", "rationale_nonbinary", "label_set_size", "label_in_set",
)  # fmt: skip

# check name -> (GX expectation class, kwargs, what it requires, in words)
CHECKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "schema_columns": ("ExpectTableColumnsToMatchSet", {"column_set": list(FRAME_COLUMNS), "exact_match": True},
                       "the rows carry exactly the schema fields"),
    "id_present": ("ExpectColumnValuesToNotBeNull", {"column": "id"}, "every row has an id"),
    "id_non_empty": ("ExpectColumnValueLengthsToBeBetween", {"column": "id", "min_value": 1}, "ids are non-empty"),
    "id_unique": ("ExpectColumnValuesToBeUnique", {"column": "id"}, "ids are unique"),
    "dataset_present": ("ExpectColumnValuesToNotBeNull", {"column": "dataset"}, "every row names its data set"),
    "task_known": ("ExpectColumnValuesToBeInSet", {"column": "task", "value_set": list(TASKS)},
                   "task is one of " + ", ".join(TASKS)),
    "template_one_slot": ("ExpectColumnValuesToBeInSet", {"column": "template_slots", "value_set": [1]},
                          f"the template contains {TEXT_SLOT!r} exactly once"),
    "words_non_empty": ("ExpectColumnValuesToBeBetween", {"column": "n_words", "min_value": 1},
                        "the prompt has at least one feature word"),
    "words_whitespace_free": ("ExpectColumnValuesToBeInSet", {"column": "n_bad_words", "value_set": [0]},
                              "feature words are non-empty and contain no whitespace"),
    "rationale_length": ("ExpectColumnPairValuesToBeEqual",
                         {"column_A": "rationale_len", "column_B": "n_words", "ignore_row_if": "either_value_is_missing"},
                         "the rationale has exactly one value per word"),
    "rationale_binary": ("ExpectColumnValuesToBeInSet", {"column": "rationale_nonbinary", "value_set": [0]},
                         "rationale values are 0 or 1 only"),
    "rationale_has_evidence": ("ExpectColumnValuesToBeBetween", {"column": "rationale_sum", "min_value": 1},
                               "a claimed rationale marks at least one word"),
    "label_in_label_set": ("ExpectColumnValuesToBeInSet", {"column": "label_in_set", "value_set": [True]},
                           "the gold label is one of the label set"),
    "label_set_for_choice_tasks": ("ExpectColumnValuesToBeBetween",
                                   {"column": "label_set_size", "min_value": 2,
                                    "row_condition": 'task!="generation"', "condition_parser": "pandas"},
                                   "classification and multiple-choice rows list at least two allowed labels"),
    "rationale_required": ("ExpectColumnValuesToNotBeNull", {"column": "rationale_len"},
                           "this data set has a ground-truth rationale on every row"),
    "label_required": ("ExpectColumnValuesToNotBeNull", {"column": "label"}, "this data set has a gold label on every row"),
}
_ALWAYS = tuple(k for k in CHECKS if k not in ("rationale_required", "label_required"))

# Per-data-set extras on top of the common checks; unknown names get the common checks only.
DATASET_RULES: dict[str, tuple[str, ...]] = {
    "paper": ("rationale_required",),
    "instructions": ("rationale_required",),
    "hatexplain": ("rationale_required", "label_required"),
    "cose": ("rationale_required", "label_required"),
    "mmlu": ("label_required",),
}

# frame columns shown next to a failing row, beyond the ones the expectation reports
_CONTEXT: dict[str, tuple[str, ...]] = {
    "label_in_label_set": ("label",),
    "rationale_has_evidence": ("n_words",),
    "label_set_for_choice_tasks": ("task",),
    "words_whitespace_free": ("n_words",),
}

_MAX_ROWS_SHOWN = 20


@dataclass(frozen=True, kw_only=True)
class ValidationFailure:
    """One failed check and the rows that fail it (ids, 1-based line numbers, details)."""

    expectation: str
    description: str
    ids: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    details: tuple[str, ...] = ()
    observed: str = ""

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.lines) == len(self.details)):
            raise ValueError(
                f"ids, lines and details must have equal length: got {len(self.ids)}, {len(self.lines)}, {len(self.details)}"
            )

    def format(self) -> str:
        n = len(self.lines)
        head = f"- {self.expectation}: {self.description}"
        head += f"; {n} row{'s' if n != 1 else ''}:" if n else f" (observed: {self.observed})" if self.observed else ""
        out = [head]
        for line, row_id, detail in list(zip(self.lines, self.ids, self.details))[:_MAX_ROWS_SHOWN]:
            out.append(f"    line {line}, id {row_id!r}" + (f": {detail}" if detail else ""))
        if n > _MAX_ROWS_SHOWN:
            out.append(f"    ... and {n - _MAX_ROWS_SHOWN} more")
        return "\n".join(out)


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    """The outcome of validating one data set: success, and every failure with its rows."""

    name: str
    n_rows: int
    failures: tuple[ValidationFailure, ...] = ()
    checks: tuple[str, ...] = ()

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failing_ids(self) -> set[str]:
        return {i for f in self.failures for i in f.ids}

    @property
    def failing_lines(self) -> set[int]:
        return {n for f in self.failures for n in f.lines}

    def format(self) -> str:
        if self.success:
            return f"Data set {self.name!r}: {self.n_rows} rows passed {len(self.checks)} checks."
        out = [f"Data set {self.name!r} is invalid: {len(self.failures)} check(s) failed on {self.n_rows} rows."]
        out += [f.format() for f in self.failures]
        out.append(
            "Fix these rows (or the source they are prepared from; see data/README.md for the schema) "
            "and run `python -m xai_bench.datasets prepare` again."
        )
        return "\n".join(out)

    __str__ = format


# --------------------------------------------------------------------------- frame


def _frame_row(ex: Example, line: int) -> dict[str, Any]:
    r = ex.rationale
    has_set = ex.label_set is not None
    return {
        "line": line,
        "id": ex.id,
        "dataset": ex.dataset,
        "task": ex.task,
        "label": ex.label,
        "n_words": len(ex.words),
        "n_bad_words": sum(1 for w in ex.words if not w or any(c.isspace() for c in w)),
        "template_slots": ex.template.count(TEXT_SLOT),
        "rationale_len": None if r is None else len(r),
        "rationale_sum": None if r is None else sum(1 for v in r if v == 1),
        "rationale_nonbinary": None if r is None else sum(1 for v in r if v not in (0, 1) or isinstance(v, bool)),
        "label_set_size": len(ex.label_set) if has_set else 0,
        "label_in_set": None if ex.label is None or not has_set else ex.label in ex.label_set,
    }


def _to_examples(
    data: Dataset | Sequence[Example] | Sequence[Mapping[str, Any]],
) -> tuple[list[Example], list[int], list[ValidationFailure]]:
    if isinstance(data, Dataset):
        lines = list(data.lines) or list(range(1, len(data) + 1))
        return list(data.examples), lines, []
    examples, lines, bad = [], [], []
    for i, row in enumerate(data, start=1):
        if isinstance(row, Example):
            examples.append(row)
            lines.append(i)
            continue
        problems = row_problems(row)
        if problems:
            row_id = row.get("id") if isinstance(row, Mapping) and isinstance(row.get("id"), str) else "?"
            bad.append((i, row_id, "; ".join(problems)))
        else:
            examples.append(Example.from_dict(row))
            lines.append(i)
    failures = []
    if bad:
        failures.append(
            ValidationFailure(
                expectation="row_schema",
                description="every row has exactly the schema keys with the right types (see data/README.md)",
                ids=tuple(b[1] for b in bad), lines=tuple(b[0] for b in bad), details=tuple(b[2] for b in bad),
            )
        )
    return examples, lines, failures


# --------------------------------------------------------------------------- GX


class _Gx:
    """One ephemeral GX context per process, one suite and validation definition per data set."""

    _lock = threading.Lock()
    _state: dict[str, Any] | None = None

    @classmethod
    def definition(cls, name: str, checks: tuple[str, ...]) -> Any:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        with cls._lock:
            if cls._state is None:
                ctx = gx.get_context(mode="ephemeral")
                ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
                batch = ctx.data_sources.add_pandas("xai_bench").add_dataframe_asset("rows").add_batch_definition_whole_dataframe("all")
                cls._state = {"ctx": ctx, "batch": batch, "defs": {}}
            key = f"xai_bench.{name}|{','.join(checks)}"
            defs = cls._state["defs"]
            if key not in defs:
                suite = gx.ExpectationSuite(name=f"xai_bench.{name}.{len(defs)}")
                for check in checks:
                    cls_name, kwargs, _ = CHECKS[check]
                    suite.add_expectation(getattr(gx.expectations, cls_name)(**kwargs, meta={"check": check}))
                suite = cls._state["ctx"].suites.add(suite)
                defs[key] = cls._state["ctx"].validation_definitions.add(
                    gx.ValidationDefinition(name=suite.name, data=cls._state["batch"], suite=suite)
                )
            return defs[key]


def _describe_expectation(config: Any) -> str:
    kw = config.kwargs
    cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
    return f"{config.type}({', '.join(cols)})"


def validate_dataset(
    data: Dataset | Sequence[Example] | Sequence[Mapping[str, Any]],
    name: str | None = None,
    *,
    extra_failures: Sequence[ValidationFailure] = (),
    n_rows: int | None = None,
) -> ValidationReport:
    """Run the GX suite of data set ``name`` on a Dataset, Examples or raw row dicts.

    Raw rows that do not follow the schema's structure are reported as ``row_schema``
    failures (line = position + 1) and left out of the GX run. ``extra_failures`` (e.g.
    unreadable lines found by the loader) are merged into the report.
    """
    import pandas as pd

    if name is None:
        name = data.name if isinstance(data, Dataset) else "rows"
    examples, lines, failures = _to_examples(data)
    failures = list(extra_failures) + failures
    checks = _ALWAYS + DATASET_RULES.get(name, ())
    frame = pd.DataFrame([_frame_row(ex, ln) for ex, ln in zip(examples, lines)], columns=list(FRAME_COLUMNS))
    frame = frame.astype({c: object for c in ("label", "rationale_len", "rationale_sum", "rationale_nonbinary", "label_in_set")})
    frame.index = frame["line"].to_numpy()
    ids_by_line = dict(zip(frame["line"], frame["id"]))
    result = _Gx.definition(name, checks).run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["line"]},
    )
    by_check = {r.expectation_config.meta["check"]: r for r in result.results}
    for check in checks:
        r = by_check[check]
        if r.success:
            continue
        _, _, description = CHECKS[check]
        exc = r.exception_info or {}
        if exc.get("raised_exception"):
            failures.append(ValidationFailure(expectation=f"{check} [{_describe_expectation(r.expectation_config)}]",
                                              description=description, observed=f"GX raised: {exc.get('exception_message')}"))
            continue
        rows = r.result.get("unexpected_index_list") or []
        lines_ = tuple(int(u["line"]) for u in rows)
        shown = [c for c in _CONTEXT.get(check, ()) if c not in rows[0]] if rows else []
        details = tuple(
            ", ".join(
                [f"{k}={_plain(v)!r}" for k, v in u.items() if k not in ("line", "id")]
                + [f"{c}={_plain(frame.at[int(u['line']), c])!r}" for c in shown]
            )
            for u in rows
        )
        failures.append(
            ValidationFailure(
                expectation=f"{check} [{_describe_expectation(r.expectation_config)}]",
                description=description,
                ids=tuple(str(ids_by_line.get(ln, "?")) for ln in lines_),
                lines=lines_,
                details=details,
                observed="" if rows else str(r.result.get("observed_value", "")),
            )
        )
    total = n_rows if n_rows is not None else len(examples) + sum(len(f.lines) for f in failures if f.expectation == "row_schema")
    return ValidationReport(name=name, n_rows=total, failures=tuple(failures), checks=checks)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def require_valid(
    data: Dataset | Sequence[Example] | Sequence[Mapping[str, Any]],
    name: str | None = None,
    **kwargs: Any,
) -> ValidationReport:
    """Validate and raise DataValidationError (with the report) if any check fails."""
    report = validate_dataset(data, name, **kwargs)
    if not report.success:
        raise DataValidationError(report.format(), report)
    return report

