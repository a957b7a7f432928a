"""Perturbation masks: non-empty, unique, exhaustive when small, text == mask, seeded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xai_bench.explain.features import prompt_features
from xai_bench.explain.perturbation import generate_perturbations

# words without whitespace, drawn from a small vocabulary so duplicates are common
WORD = st.sampled_from(["the", "cat", "sat", ",", ".", "?", "42", "don't", "(a)", "cat", "the", "é", "--"])
WORDS = st.lists(WORD, min_size=1, max_size=40)
N = st.integers(min_value=1, max_value=300)
KEEP = st.floats(min_value=0.05, max_value=0.95, exclude_min=True, exclude_max=True)
SEED = st.integers(min_value=0, max_value=2**32 - 1)

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(words=WORDS, n=N, keep_prob=KEEP, seed=SEED)
def test_masks_non_empty_unique_and_match_their_text(words, n, keep_prob, seed):
    f = prompt_features("", words=words)
    pert = generate_perturbations(f, n=n, keep_prob=keep_prob, seed=seed)
    d = len(words)
    space = 2**d - 1
    masks = pert.masks
    assert masks.shape == (min(n, space), d)
    assert len(pert) == masks.shape[0] == len(pert.texts)
    assert set(np.unique(masks)) <= {0, 1}
    # never the empty prompt
    assert masks.sum(axis=1).min() >= 1
    # unique masks
    assert len({m.tobytes() for m in masks.astype(np.int8)}) == masks.shape[0]
    if n >= space:
        # every non-empty mask appears exactly once
        got = {tuple(int(v) for v in m) for m in masks}
        want = {m for m in itertools.product((0, 1), repeat=d) if any(m)}
        assert got == want
    for mask, text in zip(masks, pert.texts):
        assert text == f.render(mask)
        # independent check: kept words in original order, duplicates kept
        assert text.split(" ") == [w for w, k in zip(words, mask) if k]


@PROPS
@given(words=WORDS, n=N, keep_prob=KEEP, seed=SEED)
def test_same_seed_gives_identical_output(words, n, keep_prob, seed):
    f = prompt_features("", words=words)
    a = generate_perturbations(f, n=n, keep_prob=keep_prob, seed=seed)
    b = generate_perturbations(f, n=n, keep_prob=keep_prob, seed=seed)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.texts == b.texts
    assert a.seed == seed and a.keep_prob == keep_prob


def test_different_seeds_usually_differ():
    f = prompt_features("the quick brown fox jumps over the lazy dog again and again")
    outs = {generate_perturbations(f, n=32, seed=s).masks.tobytes() for s in range(10)}
    assert len(outs) == 10
    # even the exhaustive small case is returned in a seeded order
    g = prompt_features("a b c")
    orders = {generate_perturbations(g, n=7, seed=s).masks.tobytes() for s in range(10)}
    assert len(orders) > 1


def test_text_example_with_duplicates():
    f = prompt_features("to be or not to be")
    pert = generate_perturbations(f, n=63, seed=3)
    by_mask = {tuple(int(v) for v in m): t for m, t in zip(pert.masks, pert.texts)}
    assert by_mask[(1, 1, 1, 1, 1, 1)] == "to be or not to be"
    assert by_mask[(1, 0, 0, 0, 1, 0)] == "to to"
    assert by_mask[(0, 1, 0, 1, 0, 1)] == "be not be"


def test_n_is_capped_at_the_mask_space():
    f = prompt_features("a b c")
    pert = generate_perturbations(f, n=100, seed=0)
    assert pert.masks.shape == (7, 3)


@pytest.mark.parametrize("keep_prob", [0.1, 0.3, 0.5, 0.8])
def test_keep_prob_is_respected_for_large_d(keep_prob):
    f = prompt_features("", words=[f"w{i}" for i in range(40)])
    pert = generate_perturbations(f, n=300, keep_prob=keep_prob, seed=11)
    share = pert.masks.mean()
    # 12,000 Bernoulli draws: standard error <= 0.005
    assert abs(share - keep_prob) < 0.03
    # and per-word shares are not degenerate (every position gets kept and dropped)
    col = pert.masks.mean(axis=0)
    assert np.all(col > 0) and np.all(col < 1)


def test_keep_prob_shifts_the_small_enumerated_case_too():
    f = prompt_features("", words=[f"w{i}" for i in range(10)])  # 1023 masks, enumerated for n=200
    low = generate_perturbations(f, n=200, keep_prob=0.2, seed=0).masks.mean()
    high = generate_perturbations(f, n=200, keep_prob=0.8, seed=0).masks.mean()
    assert low < 0.35 < 0.65 < high


@pytest.mark.parametrize("n", [0, -1, -64])
def test_bad_n_raises(n):
    f = prompt_features("a b c")
    with pytest.raises(ValueError, match="'n' parameter"):
        generate_perturbations(f, n=n)


@pytest.mark.parametrize("keep_prob", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_bad_keep_prob_raises(keep_prob):
    f = prompt_features("a b c")
    with pytest.raises(ValueError, match="'keep_prob' parameter"):
        generate_perturbations(f, keep_prob=keep_prob)


@pytest.mark.parametrize("d", [8, 11, 12, 16, 17, 40])
@pytest.mark.parametrize("keep_prob", [0.06, 0.94])
def test_extreme_keep_prob_still_gives_n_unique_masks(d, keep_prob):
    # both sampling paths (enumeration for small spaces, rejection otherwise) near the range ends
    f = prompt_features("", words=[f"w{i % 5}" for i in range(d)])
    pert = generate_perturbations(f, n=300, keep_prob=keep_prob, seed=5)
    assert pert.masks.shape == (min(300, 2**d - 1), d)
    assert len({m.tobytes() for m in pert.masks}) == pert.masks.shape[0]
    assert pert.masks.sum(axis=1).min() >= 1


@PROPS
@given(words=st.lists(WORD, min_size=1, max_size=9), n_train=N, n_held=N, seed=SEED)
def test_excluded_masks_are_never_drawn(words, n_train, n_held, seed):
    from xai_bench.explain.perturbation import masks_left

    f = prompt_features("", words=words)
    d = len(words)
    train = generate_perturbations(f, n=n_train, seed=seed).masks
    exclude = np.vstack([train, np.ones((1, d), dtype=np.int8)])
    left = masks_left(d, exclude)
    assert left == 2**d - 1 - len({m.tobytes() for m in exclude.astype(np.int8)})
    if left == 0:
        with pytest.raises(ValueError, match="no mask is left"):
            generate_perturbations(f, n=n_held, seed=seed + 1, exclude=exclude)
        return
    held = generate_perturbations(f, n=n_held, seed=seed + 1, exclude=exclude)
    keys = {m.tobytes() for m in held.masks.astype(np.int8)}
    assert len(keys) == len(held) == min(n_held, left)  # unique, capped at what is left
    assert not keys & {m.tobytes() for m in exclude.astype(np.int8)}
    assert held.masks.sum(axis=1).min() >= 1
    assert all(t == f.render(m) for m, t in zip(held.masks, held.texts))


def test_exclude_none_draws_exactly_what_it_drew_before():
    f = prompt_features("What is the meaning of life ?")
    for n in (8, 64, 200):  # sampled, near exhaustive, exhaustive
        a = generate_perturbations(f, n=n, seed=4)
        b = generate_perturbations(f, n=n, seed=4, exclude=np.zeros((0, f.n)))
        np.testing.assert_array_equal(a.masks, b.masks)
