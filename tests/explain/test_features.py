"""Word features: order, duplicates, separators, templates and error messages."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.explain.features import TEXT_SLOT, FeatureError, Features, prompt_features


def test_words_keep_order_and_duplicates():
    f = prompt_features("the cat saw the other cat , the end")
    assert f.words == ("the", "cat", "saw", "the", "other", "cat", ",", "the", "end")
    assert f.n == 9


def test_punctuation_attached_words_stay_whole():
    f = prompt_features("Hello, world! 42 is-the answer.")
    assert f.words == ("Hello,", "world!", "42", "is-the", "answer.")


def test_separators_keep_the_original_whitespace():
    prompt = "  What is\tthe\n\nmeaning   of life?  \n"
    f = prompt_features(prompt)
    assert f.words == ("What", "is", "the", "meaning", "of", "life?")
    assert f.separators == ("", " ", "\t", "\n\n", "   ", " ")
    # the full mask renders the input text from its first word to its last word exactly
    assert f.text == "What is\tthe\n\nmeaning   of life?"
    assert f.text == prompt.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab,.?! \t\n")), min_size=0, max_size=60))
def test_full_mask_renders_the_span_from_first_to_last_word(prompt):
    words = re.findall(r"\S+", prompt)
    if not words:
        with pytest.raises(FeatureError):
            prompt_features(prompt)
        return
    f = prompt_features(prompt)
    assert list(f.words) == words
    start = re.search(r"\S", prompt).start()
    end = len(prompt.rstrip())
    assert f.text == prompt[start:end]


def test_render_keeps_separator_of_each_kept_word_but_never_leading():
    f = prompt_features("a  b\tc d")
    assert f.render([1, 1, 1, 1]) == "a  b\tc d"
    assert f.render([0, 1, 0, 1]) == "b d"  # separator preceding d is a single space
    assert f.render([0, 0, 1, 1]) == "c d"  # no leading tab
    assert f.render([1, 0, 1, 0]) == "a\tc"
    assert f.render([0, 0, 0, 1]) == "d"


def test_render_rejects_wrong_mask_shape():
    f = prompt_features("one two three")
    with pytest.raises(FeatureError, match=r"shape \(3,\)"):
        f.render([1, 1])
    with pytest.raises(FeatureError):
        f.render(np.ones((1, 3)))


def test_template_words_are_fixed_and_only_the_slot_is_filled():
    template = "Classify the sentiment: {text}\nAnswer (good/bad):"
    f = prompt_features("a very bad movie", template=template)
    assert f.words == ("a", "very", "bad", "movie")  # template words are not features
    assert f.text == "Classify the sentiment: a very bad movie\nAnswer (good/bad):"
    assert f.render([0, 0, 1, 0]) == "Classify the sentiment: bad\nAnswer (good/bad):"
    assert f.render([1, 0, 0, 1]) == "Classify the sentiment: a movie\nAnswer (good/bad):"


def test_template_with_braces_elsewhere_is_not_formatted():
    # only the "{text}" slot is replaced: other braces are sent as is (no str.format)
    f = prompt_features("x y", template='JSON {"label": ?} of: {text} {0}')
    assert f.text == 'JSON {"label": ?} of: x y {0}'


@pytest.mark.parametrize("template", ["No slot here", "{text} and again {text}", "{ text }"])
def test_template_without_exactly_one_slot_raises(template):
    with pytest.raises(FeatureError, match=re.escape(TEXT_SLOT)):
        prompt_features("some words", template=template)


def test_explicit_words_override_segmentation():
    f = prompt_features("ignored entirely", words=["New", "York", "is", "big", "York"])
    assert f.words == ("New", "York", "is", "big", "York")
    assert f.separators == ("", " ", " ", " ", " ")
    assert f.text == "New York is big York"
    assert f.render([0, 1, 0, 0, 1]) == "York York"


def test_explicit_words_with_template():
    f = prompt_features("", words=["bad", "film"], template="Review: {text}.")
    assert f.text == "Review: bad film."


@pytest.mark.parametrize("words", [["ok", ""], ["ok", "two words"], ["  "], ["tab\there"]])
def test_explicit_words_must_be_single_non_empty_tokens(words):
    with pytest.raises(FeatureError, match="empty or contains whitespace"):
        prompt_features("x", words=words)


def test_explicit_empty_word_list_raises():
    with pytest.raises(FeatureError, match="empty"):
        prompt_features("not used", words=[])


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t \n"])
def test_empty_or_whitespace_prompt_raises(prompt):
    with pytest.raises(FeatureError, match="empty or only whitespace"):
        prompt_features(prompt)


def test_non_string_prompt_raises():
    with pytest.raises(FeatureError, match="must be a string"):
        prompt_features(None)  # type: ignore[arg-type]


def test_too_many_words_raises_naming_the_count_and_limit():
    with pytest.raises(FeatureError, match=r"5 words, more than max_features=4"):
        prompt_features("a b c d e", max_features=4)
    assert prompt_features("a b c d", max_features=4).n == 4  # the limit itself is allowed


def test_feature_error_is_a_value_error():
    assert issubclass(FeatureError, ValueError)


def test_features_checks_lengths():
    with pytest.raises(FeatureError, match="expected 2, got 1"):
        Features(words=("a", "b"), separators=("",))
