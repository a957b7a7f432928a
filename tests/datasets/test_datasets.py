"""Prepared data sets: they build from data/raw (in the repository), load, validate, are
deterministic, and keep template words fixed; nothing tracked names a path outside the repository."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from xai_bench.datasets import DATASET_NAMES, RAW_FILES, Example, load_dataset, main, prepare_all, raw_file
from xai_bench.datasets.prepare import DEFAULT_RAW_DIR, DEFAULT_SOURCE_DIR, prepare_authored, prepare_mmlu
from xai_bench.errors import DataValidationError
from xai_bench.explain.features import TEXT_SLOT

from tests.conftest import REPO


def _raw_rows(name: str) -> list[dict]:
    path = raw_file(DEFAULT_RAW_DIR, name)
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _git_ls_files(*paths: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode("utf-8").split("\0") if p]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    prepare_all(DEFAULT_RAW_DIR, DEFAULT_SOURCE_DIR, out)
    return out


def test_raw_extracts_are_committed_and_documented():
    assert DEFAULT_RAW_DIR == REPO / "data" / "raw"
    tracked = set(_git_ls_files("data/raw"))
    readme = (DEFAULT_RAW_DIR / "README.md").read_text(encoding="utf-8")
    for name in RAW_FILES:
        path = raw_file(DEFAULT_RAW_DIR, name)
        assert path.is_file(), path
        assert path.relative_to(REPO).as_posix() in tracked, f"{path} is not committed to git"
        assert hashlib.sha256(path.read_bytes()).hexdigest() in readme, f"data/raw/README.md lacks the sha256 of {path.name}"
    assert raw_file(DEFAULT_RAW_DIR, "mmlu").name == "mmlu.jsonl.gz"


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_prepared_dataset_loads_and_validates(prepared, name):
    ds = load_dataset(prepared / f"{name}.jsonl")  # validates with the GX suite
    assert ds.name == name and len(ds) > 0
    assert len(ds.sha256) == 64
    assert len({ex.id for ex in ds}) == len(ds)
    for ex in ds:
        assert ex.dataset == name
        feats = ex.features()
        assert feats.words == ex.words
        if ex.rationale is not None:
            assert len(ex.rationale) == len(ex.words) and sum(ex.rationale) >= 1


def test_row_counts(prepared):
    counts = {name: len(load_dataset(prepared / f"{name}.jsonl", validate=False)) for name in DATASET_NAMES}
    assert counts["hatexplain"] == 686  # every row of the raw file
    assert counts["cose"] == 434
    assert counts["mmlu"] == 200
    assert counts["paper"] == 15  # 10 variants + gender triplet + 2 OPRO instructions
    assert counts["instructions"] >= 30


def test_prepare_is_deterministic(prepared, tmp_path):
    prepare_all(DEFAULT_RAW_DIR, DEFAULT_SOURCE_DIR, tmp_path)
    for name in DATASET_NAMES:
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (prepared / f"{name}.jsonl").read_bytes(), name


def test_hatexplain_rows_mirror_the_source(prepared):
    src = _raw_rows("hatexplain")
    ds = load_dataset(prepared / "hatexplain.jsonl", validate=False)
    for row, ex in zip(src, ds):
        assert ex.id == f"hatexplain/{row['id']}"
        assert list(ex.words) == row["tokens"]
        assert list(ex.rationale) == row["rationale_mask"]
        assert ex.label == row["label"]
        assert ex.label_set == ("hatespeech", "offensive", "normal")
        assert ex.task == "classification"


def test_cose_options_live_in_the_template(prepared):
    src = _raw_rows("cose")
    ds = load_dataset(prepared / "cose.jsonl", validate=False)
    for row, ex in zip(src, ds):
        assert ex.task == "multiple_choice" and ex.label == row["label"] and ex.label_set == ("A", "B", "C")
        for letter, option in row["choices"].items():
            assert f"\n{letter}. {option}" in ex.template
        assert list(ex.words) == row["tokens"]


def test_mmlu_sample_is_seeded_and_spread_over_topics(prepared):
    ds = load_dataset(prepared / "mmlu.jsonl", validate=False)
    topics = {ex.provenance["topic"] for ex in ds}
    assert len(topics) >= 40
    assert all(ex.rationale is None and ex.label in ("A", "B", "C", "D") for ex in ds)
    # refs name the line of the uncompressed file, whatever the storage
    assert all(re.fullmatch(r"mmlu/mmlu\.jsonl:\d+ id=mmlu-\d+", ex.provenance["ref"]) for ex in ds)
    other = prepare_mmlu(raw_file(DEFAULT_RAW_DIR, "mmlu"), seed=1)
    assert {ex.id for ex in other} != {ex.id for ex in ds}


def test_paper_prompt_sets(prepared):
    ds = load_dataset(prepared / "paper.jsonl", validate=False)
    groups: dict[str, list[Example]] = {}
    for ex in ds:
        groups.setdefault(ex.provenance["group"], []).append(ex)
    assert len(groups["meaning_of_life"]) == 10
    assert len({" ".join(ex.words) for ex in groups["meaning_of_life"]}) == 10
    assert [" ".join(ex.words) for ex in groups["gender_triplet"]] == [
        "What is the meaning of life?",
        "What is the meaning of life from men’s perspective?",
        "What is the meaning of life from women’s perspective?",
    ]
    assert len(groups["opro_instructions"]) == 2
    neutral = ds.by_id("paper/gender-neutral")
    assert [w for w, r in zip(neutral.words, neutral.rationale) if r] == ["meaning", "life?"]


def test_features_keep_template_words_fixed():
    template = "Classify the post.\nPost: " + TEXT_SLOT + "\nAnswer:"
    ex = Example(
        id="t/1", dataset="t", task="classification", template=template,
        words=("you", "are", "awful"), rationale=(0, 0, 1), label="offensive",
        label_set=("offensive", "normal"), provenance={"source": "s", "licence": "l", "ref": "r"},
    )  # fmt: skip
    feats = ex.features()
    assert feats.words == ("you", "are", "awful") and feats.n == 3
    assert ex.prompt == "Classify the post.\nPost: you are awful\nAnswer:"
    assert feats.render(np.array([1, 0, 1])) == "Classify the post.\nPost: you awful\nAnswer:"
    assert feats.render(np.zeros(3, dtype=int)) == "Classify the post.\nPost: \nAnswer:"
    for mask in ([0, 0, 0], [1, 0, 0], [0, 1, 1]):
        rendered = feats.render(np.array(mask))
        assert rendered.startswith("Classify the post.\nPost: ") and rendered.endswith("\nAnswer:")


def test_plain_prompt_features_are_the_words():
    ex = Example(
        id="p/1", dataset="p", task="generation", template=TEXT_SLOT, words=("What", "is", "life?"),
        rationale=(0, 0, 1), label=None, label_set=None, provenance={"source": "s", "licence": "l", "ref": "r"},
    )  # fmt: skip
    assert ex.prompt == "What is life?"
    assert ex.features().render([1, 0, 1]) == "What life?"


def test_authored_keyword_that_matches_no_word_is_an_error(tmp_path):
    src = tmp_path / "bad.yaml"
    src.write_text("dataset: x\nlicence: l\nprompts:\n  - {id: a, text: 'Boil an egg.', keywords: [egg, toast]}\n")
    with pytest.raises(ValueError, match="toast"):
        prepare_authored(src)


def test_authored_keywords_match_normalised_words(tmp_path):
    src = tmp_path / "ok.yaml"
    src.write_text("dataset: x\nlicence: l\nprompts:\n  - {id: a, text: 'Is it Women’s day, LIFE?', keywords: [women's, life]}\n")
    (ex,) = prepare_authored(src)
    assert ex.rationale == (0, 0, 1, 0, 1)
    assert ex.id == "x/a" and ex.provenance["ref"] == "data/source/ok.yaml#a"


def test_missing_file_is_a_data_validation_error(tmp_path):
    with pytest.raises(DataValidationError, match="prepare"):
        load_dataset(tmp_path / "nope.jsonl")


def test_cli_prepare(tmp_path, capsys):
    assert main(["prepare", "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.jsonl" for n in DATASET_NAMES)
    assert "hatexplain: 686 rows" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "cose.jsonl")]) == 0


def test_raw_extracts_read_the_same_plain_or_gzipped(tmp_path):
    rows = [
        {"id": f"m-{i}", "question": f"Is {i} a number ?", "answer_a": "yes", "answer_b": "no", "answer_c": "maybe",
         "answer_d": "never", "correct_answer": "A", "topic": f"topic {i % 2}"}
        for i in range(4)
    ]  # fmt: skip
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    plain_dir, packed_dir = tmp_path / "plain", tmp_path / "packed"
    (plain_dir / "mmlu").mkdir(parents=True)
    (packed_dir / "mmlu").mkdir(parents=True)
    (plain_dir / "mmlu" / "mmlu.jsonl").write_bytes(data)
    (packed_dir / "mmlu" / "mmlu.jsonl.gz").write_bytes(gzip.compress(data))
    assert raw_file(packed_dir, "mmlu").name == "mmlu.jsonl.gz" and raw_file(plain_dir, "mmlu").name == "mmlu.jsonl"
    a = prepare_mmlu(raw_file(plain_dir, "mmlu"), n=3)
    b = prepare_mmlu(raw_file(packed_dir, "mmlu"), n=3)
    assert [ex.to_dict() for ex in a] == [ex.to_dict() for ex in b]
    assert all(re.fullmatch(r"mmlu/mmlu\.jsonl:\d id=m-\d", ex.provenance["ref"]) for ex in b)


# A tracked file may not depend on anything outside the repository: no relative path that
# climbs above the repository root, no navigation above it in Python (the parent of the
# repository root) and no sibling "shared" folder of the clone. Files run from the repository root (shell
# scripts, Makefile, YAML, DVC files) resolve relative paths against the root; the others
# (Markdown links, Python) against their own folder. data/raw/README.md is exempt: it
# records where the extracts were imported from.
_ROOT_RELATIVE_SUFFIXES = (".sh", ".yaml", ".yml", ".lock", ".toml", ".cfg", ".ini", ".txt", ".env")
_ROOT_RELATIVE_NAMES = ("Makefile", "Dockerfile", ".dvcignore", ".gitignore")
_OUTSIDE_PATTERNS = (
    re.compile(r"\.\./shared\b"),
    re.compile(r"parent\s*/\s*[\"']shared[\"']"),
    re.compile(r"\bREPO\w*\.parents?\b|_REPO\w*\.parents?\b"),
)
_CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+)(?=[\w$<{])")


def _outside_references(rel: str, text: str) -> list[str]:
    root_relative = rel.endswith(_ROOT_RELATIVE_SUFFIXES) or Path(rel).name in _ROOT_RELATIVE_NAMES
    depth = 0 if root_relative else len(Path(rel).parent.parts)
    found = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        hits = [m.group(0) for p in _OUTSIDE_PATTERNS for m in p.finditer(line)]
        hits += [m.group(0) + "..." for m in _CLIMB.finditer(line) if m.group(1).count("../") > depth]
        found += [f"{rel}:{lineno}: {h!r} in {line.strip()[:100]!r}" for h in hits]
    return found


def test_outside_reference_detector():
    assert _outside_references("dvc.yaml", "      - ../" + "shared/datasets/x.jsonl")
    assert _outside_references("scripts/x.sh", "cat ../other/file")
    assert _outside_references("docs/x.md", "see [it](" + "../" * 2 + "elsewhere/README.md)")
    assert _outside_references("xai_bench/x.py", "D = _REPO" + ".parent / " + '"shared"')
    assert _outside_references("tests/x.py", "p = REPO" + ".parent / 'data'")
    assert not _outside_references("docs/x.md", "see [it](../README.md) and ./a/b")
    assert not _outside_references("scripts/x.sh", 'cd "$(dirname "$0")/.."')
    assert not _outside_references("xai_bench/x.py", "REPO = Path(__file__).resolve().parents[1]")


def test_no_tracked_file_names_a_path_outside_the_repository():
    found = []
    for rel in _git_ls_files():
        if rel == "data/raw/README.md":
            continue
        path = REPO / rel
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (gzip, images)
        found += _outside_references(rel, data.decode("utf-8", errors="replace"))
    assert not found, "tracked files refer to paths outside the repository:\n" + "\n".join(found)
