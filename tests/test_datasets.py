"""Prepared data sets: they build, load, validate, are deterministic, and keep template words fixed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xai_bench.datasets import (
    DATASET_NAMES,
    DEFAULT_SHARED_DIR,
    DEFAULT_SOURCE_DIR,
    Example,
    load_dataset,
    main,
    prepare_all,
    prepare_authored,
    prepare_mmlu,
)
from xai_bench.errors import DataValidationError
from xai_bench.features import TEXT_SLOT

needs_shared = pytest.mark.skipif(
    not (DEFAULT_SHARED_DIR / "hatexplain" / "test_toxic_dev.jsonl").exists(),
    reason=f"shared data sets not found at {DEFAULT_SHARED_DIR}",
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    if not (DEFAULT_SHARED_DIR / "hatexplain").exists():
        pytest.skip(f"shared data sets not found at {DEFAULT_SHARED_DIR}")
    out = tmp_path_factory.mktemp("prepared")
    prepare_all(DEFAULT_SHARED_DIR, DEFAULT_SOURCE_DIR, out)
    return out


@needs_shared
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


@needs_shared
def test_row_counts(prepared):
    counts = {name: len(load_dataset(prepared / f"{name}.jsonl", validate=False)) for name in DATASET_NAMES}
    assert counts["hatexplain"] == 686  # every row of the shared file
    assert counts["cose"] == 434
    assert counts["mmlu"] == 200
    assert counts["paper"] == 15  # 10 variants + gender triplet + 2 OPRO instructions
    assert counts["instructions"] >= 30


@needs_shared
def test_prepare_is_deterministic(prepared, tmp_path):
    prepare_all(DEFAULT_SHARED_DIR, DEFAULT_SOURCE_DIR, tmp_path)
    for name in DATASET_NAMES:
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (prepared / f"{name}.jsonl").read_bytes(), name


@needs_shared
def test_hatexplain_rows_mirror_the_source(prepared):
    src = [json.loads(line) for line in (DEFAULT_SHARED_DIR / "hatexplain" / "test_toxic_dev.jsonl").open()]
    ds = load_dataset(prepared / "hatexplain.jsonl", validate=False)
    for row, ex in zip(src, ds):
        assert ex.id == f"hatexplain/{row['id']}"
        assert list(ex.words) == row["tokens"]
        assert list(ex.rationale) == row["rationale_mask"]
        assert ex.label == row["label"]
        assert ex.label_set == ("hatespeech", "offensive", "normal")
        assert ex.task == "classification"


@needs_shared
def test_cose_options_live_in_the_template(prepared):
    src = [json.loads(line) for line in (DEFAULT_SHARED_DIR / "cose" / "dev_informative.jsonl").open()]
    ds = load_dataset(prepared / "cose.jsonl", validate=False)
    for row, ex in zip(src, ds):
        assert ex.task == "multiple_choice" and ex.label == row["label"] and ex.label_set == ("A", "B", "C")
        for letter, option in row["choices"].items():
            assert f"\n{letter}. {option}" in ex.template
        assert list(ex.words) == row["tokens"]


@needs_shared
def test_mmlu_sample_is_seeded_and_spread_over_topics(prepared):
    ds = load_dataset(prepared / "mmlu.jsonl", validate=False)
    topics = {ex.provenance["topic"] for ex in ds}
    assert len(topics) >= 40
    assert all(ex.rationale is None and ex.label in ("A", "B", "C", "D") for ex in ds)
    other = prepare_mmlu(DEFAULT_SHARED_DIR / "mmlu" / "mmlu.jsonl", seed=1)
    assert {ex.id for ex in other} != {ex.id for ex in ds}


@needs_shared
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


@needs_shared
def test_cli_prepare(tmp_path, capsys):
    assert main(["prepare", "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.jsonl" for n in DATASET_NAMES)
    assert "hatexplain: 686 rows" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "cose.jsonl")]) == 0
