"""Reading a model's answer as a label (task accuracy)."""

from __future__ import annotations

import pytest

from xai_bench.benchmark.answers import parse_answer, template_options

TEMPLATE = "Answer the question.\nQuestion: {text}\nA. appear suddenly\nB. bottom out\nC. go downtown\nAnswer:"
CHOICE = dict(task="multiple_choice", label_set=("A", "B", "C"), template=TEMPLATE)


@pytest.mark.parametrize("response, expected", [
    ("C", "C"),
    ("C. go downtown", "C"),
    ("The answer is B.", "B"),
    ("Answer: (A)", "A"),
    ("I think it is (B) because...", "B"),
    ("A car goes downtown, so the answer is C", "C"),
    ("They would go downtown.", "C"),
    ("A car is a vehicle.", None),
    ("", None),
])
def test_multiple_choice(response, expected):
    assert parse_answer(response, **CHOICE) == expected


@pytest.mark.parametrize("response, expected", [
    ("offensive", "offensive"),
    ("This post is hate speech.", "hatespeech"),
    ("Normal. It is not offensive.", "normal"),
    ("I cannot classify this.", None),
])
def test_classification(response, expected):
    labels = ("hatespeech", "offensive", "normal")
    assert parse_answer(response, task="classification", label_set=labels) == expected


def test_template_options():
    assert template_options(TEMPLATE) == {"A": "appear suddenly", "B": "bottom out", "C": "go downtown"}


def test_generation_is_not_a_labelled_task():
    with pytest.raises(ValueError, match="'task' parameter"):
        parse_answer("x", task="generation", label_set=("a", "b"))
