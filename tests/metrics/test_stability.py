"""topk_jaccard (eq. 15) and minimal_changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics import CHANGE_KINDS, SYNONYMS, get_metric, minimal_changes, topk_jaccard

WORDS = st.lists(
    st.text(alphabet=st.characters(categories=("L", "N", "P")), min_size=1, max_size=8), min_size=1, max_size=15
)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_hand_fixture():
    tokens = ["a", "b", "c", "d"]
    # top-2: {a, b} vs {a, c}: 1 shared of 3 -> 1/3
    assert topk_jaccard(tokens, [4, 3, 2, 1], tokens, [4, 1, 3, 2], 2) == pytest.approx(1 / 3)
    assert topk_jaccard(tokens, [4, 3, 2, 1], tokens, [4, 3, 2, 1], 2) == 1.0
    assert topk_jaccard(tokens, [4, 3, 2, 1], tokens, [1, 2, 3, 4], 2) == 0.0


def test_duplicates_compared_by_occurrence():
    a = ["the", "cat", "the"]
    b = ["the", "cat", "the", "please"]
    # the important "the" is the second one in a, the first one in b: different tokens
    assert topk_jaccard(a, [1, 0, 2], b, [2, 0, 1, 0], 1) == 0.0
    assert topk_jaccard(a, [1, 0, 2], b, [1, 0, 2, 0], 1) == 1.0


def test_appended_token_in_topk_lowers_jaccard():
    a = "What is the meaning of life?".split()
    b = a + ["please"]
    attr_a = [0, 0, 0, 2, 0, 3]
    assert topk_jaccard(a, attr_a, b, attr_a + [0], 2) == 1.0
    assert topk_jaccard(a, attr_a, b, [0, 0, 0, 2, 0, 1, 3], 2) == pytest.approx(1 / 3)


def test_alignment_matches_a_word_whose_text_changed():
    change = minimal_changes("What is the meaning of life?".split())["punctuation"]
    assert change.words[-1] == "life"
    a, b = "What is the meaning of life?".split(), list(change.words)
    attr = [0, 0, 0, 2, 0, 3]
    assert topk_jaccard(a, attr, b, attr, 2) == pytest.approx(1 / 3)  # 'life?' != 'life'
    assert topk_jaccard(a, attr, b, attr, 2, alignment=change.position_map) == 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda d: st.tuples(
            st.lists(st.sampled_from(["a", "b", "c", "the"]), min_size=d, max_size=d),
            st.lists(st.floats(-3, 3, allow_nan=False), min_size=d, max_size=d),
            st.lists(st.floats(-3, 3, allow_nan=False), min_size=d, max_size=d),
            st.integers(1, d + 2),
        )
    )
)
def test_range_symmetry_and_independent_set_computation(data):
    tokens, attr_a, attr_b, k = data
    j = topk_jaccard(tokens, attr_a, tokens, attr_b, k, tie_seed=5, tie_seed_b=6)
    assert get_metric("stability_jaccard").in_range(j)
    assert j == topk_jaccard(tokens, attr_b, tokens, attr_a, k, tie_seed=6, tie_seed_b=5)
    # independent: the positions of the k largest values, ties in the seeded random order
    def top(attr, seed):
        tiebreak = np.random.default_rng(seed).permutation(len(attr))
        return set(sorted(range(len(attr)), key=lambda i: (-attr[i], tiebreak[i]))[:k])

    assert j == pytest.approx(_jaccard(top(attr_a, 5), top(attr_b, 6)))
    if len(set(attr_a)) == len(attr_a):  # no ties: an explanation's top-k is its own
        assert topk_jaccard(tokens, attr_a, tokens, attr_a, k) == 1.0


def test_explanations_that_learned_nothing_score_chance_not_a_perfect_jaccard():
    # All attributions 0 before and after appending a word: with ties broken by position
    # both top-3 sets were the first three words, a Jaccard of 1.0 for no signal at all.
    a = "tell me about the volcano near the old town".split()
    b = a + ["please"]
    change = minimal_changes(a)["append"]
    values = [topk_jaccard(a, [0.0] * len(a), b, [0.0] * len(b), 3, alignment=change.position_map,
                           tie_seed=s, tie_seed_b=1000 + s) for s in range(300)]
    assert max(values) == 1.0 and min(values) == 0.0  # a tie decides nothing either way
    # chance: |A ∩ B| for two random 3-sets (B drawn from the 9 old words + 1 new) has mean 3 * 3/10 = 0.9
    chance = np.mean([_jaccard(set(r.permutation(9)[:3]), set(r.permutation(10)[:3]))
                      for r in (np.random.default_rng(s) for s in range(2000))])
    assert np.mean(values) == pytest.approx(chance, abs=0.05)
    assert np.mean(values) < 0.4


def test_jaccard_validation():
    with pytest.raises(ValueError, match=r"expected one attribution per token \(2\), got 3"):
        topk_jaccard(["a", "b"], [1, 2, 3], ["a", "b"], [1, 2], 1)
    with pytest.raises(ValueError, match="k: expected an integer >= 1, got 0"):
        topk_jaccard(["a"], [1], ["a"], [1], 0)
    with pytest.raises(ValueError, match="expected a one-to-one map"):
        topk_jaccard(["a", "b"], [1, 2], ["a", "b"], [1, 2], 1, alignment={0: 0, 1: 0})
    with pytest.raises(ValueError, match="alignment: expected positions"):
        topk_jaccard(["a", "b"], [1, 2], ["a", "b"], [1, 2], 1, alignment={0: 5})


def test_minimal_changes_fixture():
    words = "Please give me a Big, simple list".split()
    out = minimal_changes(words, seed=0, rationale_mask=[0, 0, 0, 0, 0, 0, 1])
    assert set(out) == set(CHANGE_KINDS)
    assert out["append"].words == tuple(words) + ("please",)
    assert out["punctuation"].words[-1] == "list."
    syn = out["synonym"]
    assert not syn.fallback
    changed = [i for i, (x, y) in enumerate(zip(words, syn.words)) if x != y]
    assert len(changed) == 1 and changed[0] in (0, 1, 4, 5)
    expected = {0: "Kindly", 1: "provide", 4: "Large,", 5: "basic"}
    assert syn.words[changed[0]] == expected[changed[0]]  # case and punctuation kept


def test_synonym_never_replaces_rationale_words_and_falls_back():
    words = ["make", "it", "big"]
    out = minimal_changes(words, rationale_mask=[1, 0, 1])["synonym"]
    assert out.fallback and out.words == ("make", "it", "big", "please")
    out = minimal_changes(["What", "is", "life?"])["synonym"]
    assert out.fallback and out.kind == "synonym"


def test_synonym_choice_is_seeded():
    words = "give a big simple quick short brief list".split()
    picks = {minimal_changes(words, seed=s)["synonym"].words for s in range(30)}
    assert len(picks) > 1  # the seed chooses among candidates
    assert minimal_changes(words, seed=7)["synonym"] == minimal_changes(words, seed=7)["synonym"]


def test_punctuation_lone_mark_and_single_word():
    assert minimal_changes(["Why", "?"])["punctuation"].words == ("Why",)
    assert minimal_changes(["?"])["punctuation"].words == ("?.",)  # never the empty prompt
    assert minimal_changes(["Hello!"])["punctuation"].words == ("Hello",)


@settings(max_examples=200, deadline=None)
@given(WORDS, st.integers(0, 2**16))
def test_minimal_change_invariants(words, seed):
    for kind, change in minimal_changes(words, seed=seed).items():
        assert change.kind == kind
        assert change.words and all(w and not any(c.isspace() for c in w) for w in change.words)
        targets = list(change.position_map.values())
        assert len(set(targets)) == len(targets)  # one-to-one
        assert all(0 <= i < len(words) and 0 <= j < len(change.words) for i, j in change.position_map.items())
        # at most one word differs in text, and the length changes by at most one
        differing = sum(words[i] != change.words[j] for i, j in change.position_map.items())
        assert differing <= 1
        assert abs(len(change.words) - len(words)) <= 1
        if kind == "append" or change.fallback:
            assert change.words[:-1] == tuple(words)


def test_synonym_table_is_small_and_lower_case():
    assert len(SYNONYMS) <= 60
    assert all(k == k.lower() and v == v.lower() and k != v for k, v in SYNONYMS.items())


def test_minimal_changes_validation():
    with pytest.raises(ValueError, match="expected at least 1 word, got 0"):
        minimal_changes([])
    with pytest.raises(ValueError, match="without whitespace"):
        minimal_changes(["a b"])
    with pytest.raises(ValueError, match="expected length 2"):
        minimal_changes(["a", "b"], rationale_mask=[1])
