"""The benchmark row schema: ``Example``, ``Dataset``, the per-row checks and the writer.

Every data set is a JSON Lines file, one example a line, with exactly these keys (the
schema is written down key by key in ``data/README.md``):

    id          unique str
    dataset     str, the data set the row belongs to
    task        "generation" | "classification" | "multiple_choice"
    template    str with exactly one "{text}" slot ("{text}" alone for plain prompts);
                its own words are fixed, never perturbed
    words       list of feature words (the perturbable input words), whitespace-free
    rationale   list of 0/1, one per word (1 = ground-truth evidence), or null
    label       gold label (str) or null
    label_set   list of allowed labels (str) or null
    provenance  object with at least "source", "licence" and "ref" (row reference)

Loading with validation is :mod:`xai_bench.datasets.loading`; building the files is
:mod:`xai_bench.datasets.prepare`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..explain.features import Features, prompt_features

__all__ = ["Example", "Dataset", "TASKS", "SCHEMA_KEYS", "PROVENANCE_KEYS", "DATASET_NAMES", "row_problems", "write_dataset"]

TASKS = ("generation", "classification", "multiple_choice")
SCHEMA_KEYS = ("id", "dataset", "task", "template", "words", "rationale", "label", "label_set", "provenance")
PROVENANCE_KEYS = ("source", "licence", "ref")
DATASET_NAMES = ("paper", "instructions", "hatexplain", "cose", "mmlu")




@dataclass(frozen=True, kw_only=True)
class Example:
    """One benchmark row in the schema above. Lists are stored as tuples."""

    id: str
    dataset: str
    task: str
    template: str
    words: tuple[str, ...]
    rationale: tuple[int, ...] | None
    label: str | None
    label_set: tuple[str, ...] | None
    provenance: Mapping[str, Any]

    def features(self) -> Features:
        """The word features: only ``words`` are perturbed, the template's words stay fixed."""
        return prompt_features(" ".join(self.words), template=self.template, words=self.words)

    @property
    def prompt(self) -> str:
        """The full prompt sent to a model (template filled with all words)."""
        return self.features().text

    @property
    def has_rationale(self) -> bool:
        return self.rationale is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON row, keys in schema order."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "task": self.task,
            "template": self.template,
            "words": list(self.words),
            "rationale": None if self.rationale is None else list(self.rationale),
            "label": self.label,
            "label_set": None if self.label_set is None else list(self.label_set),
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Example":
        """Build from a parsed row; raises ValueError naming every structural problem."""
        problems = row_problems(row)
        if problems:
            raise ValueError(f"Row {row.get('id', '?')!r} does not follow the schema: " + "; ".join(problems))
        return cls(
            id=row["id"],
            dataset=row["dataset"],
            task=row["task"],
            template=row["template"],
            words=tuple(row["words"]),
            rationale=None if row["rationale"] is None else tuple(row["rationale"]),
            label=row["label"],
            label_set=None if row["label_set"] is None else tuple(row["label_set"]),
            provenance=dict(row["provenance"]),
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def row_problems(row: Any) -> list[str]:
    """Structural problems of one parsed row: not an object, missing/unknown keys, wrong types.

    Values that are well-typed but wrong (a rationale of the wrong length, a label not in
    the label set, ...) are left to the Great Expectations suite.
    """
    if not isinstance(row, Mapping):
        return [f"expected a JSON object, got {type(row).__name__}"]
    problems: list[str] = []
    missing = [k for k in SCHEMA_KEYS if k not in row]
    if missing:
        problems.append("missing key(s) " + ", ".join(repr(k) for k in missing))
    unknown = sorted(k for k in row if k not in SCHEMA_KEYS)
    if unknown:
        problems.append("unknown key(s) " + ", ".join(repr(k) for k in unknown) + f"; allowed: {', '.join(SCHEMA_KEYS)}")

    def bad(key: str, expected: str) -> None:
        problems.append(f"{key!r} must be {expected}, got {json.dumps(row[key], ensure_ascii=False)[:60]}")

    for key in ("id", "dataset", "task", "template"):
        if key in row and not isinstance(row[key], str):
            bad(key, "a string")
    if "words" in row and not (isinstance(row["words"], list) and all(isinstance(w, str) for w in row["words"])):
        bad("words", "a list of strings")
    if "rationale" in row and row["rationale"] is not None:
        if not (isinstance(row["rationale"], list) and all(_is_int(v) for v in row["rationale"])):
            bad("rationale", "a list of integers (0/1) or null")
    if "label" in row and row["label"] is not None and not isinstance(row["label"], str):
        bad("label", "a string or null")
    if "label_set" in row and row["label_set"] is not None:
        if not (isinstance(row["label_set"], list) and all(isinstance(v, str) for v in row["label_set"])):
            bad("label_set", "a list of strings or null")
    if "provenance" in row:
        prov = row["provenance"]
        if not isinstance(prov, Mapping):
            bad("provenance", "an object with keys " + ", ".join(PROVENANCE_KEYS))
        else:
            lacking = [k for k in PROVENANCE_KEYS if not isinstance(prov.get(k), str)]
            if lacking:
                problems.append("'provenance' lacks string key(s) " + ", ".join(repr(k) for k in lacking))
    return problems


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A loaded data set: its examples (file order), their line numbers and the file hash.

    sha256: hash of the file's bytes, to record exactly which data a run used.
    """

    name: str
    examples: tuple[Example, ...]
    sha256: str
    path: Path | None = None
    lines: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.lines and len(self.lines) != len(self.examples):
            raise ValueError(f"lines must have one entry per example: expected {len(self.examples)}, got {len(self.lines)}")

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    def by_id(self, example_id: str) -> Example:
        for ex in self.examples:
            if ex.id == example_id:
                return ex
        raise KeyError(f"No example with id {example_id!r} in data set {self.name!r}.")


def write_dataset(examples: Sequence[Example], path: str | Path) -> Path:
    """Write examples as JSON Lines, deterministically (UTF-8, schema key order, '\\n')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for ex in examples:
            fh.write(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
