"""The random-attribution baseline sits at chance level."""

from __future__ import annotations

import numpy as np
import pytest

from xai_bench.metrics import aggregate, attribution_accuracy, random_attributions


def test_shape_determinism_and_distribution():
    a = random_attributions(5, seed=1)
    assert a.shape == (5,) and a.dtype == np.float64
    np.testing.assert_array_equal(a, random_attributions(5, seed=1))
    assert not np.array_equal(a, random_attributions(5, seed=2))
    big = random_attributions(20000, seed=0)
    assert abs(big.mean()) < 0.03 and abs(big.std() - 1) < 0.03


def test_ranking_is_a_uniform_permutation():
    # the most important position is equally likely to be any of the words
    counts = np.bincount([int(np.argmax(random_attributions(4, seed=s))) for s in range(2000)], minlength=4)
    assert np.all(np.abs(counts - 500) < 100), counts


def test_auroc_averages_near_half_over_many_prompts(seed):
    rng = np.random.default_rng(seed)
    rows = []
    expected_f1 = []
    for p in range(600):
        d = int(rng.integers(4, 25))
        mask = np.zeros(d, dtype=int)
        k = int(rng.integers(1, d))
        mask[rng.choice(d, size=k, replace=False)] = 1
        rows.append(attribution_accuracy(random_attributions(d, seed=1000 * seed + p), mask))
        expected_f1.append(k / d)  # a random top-k hits each rationale word with probability k/d
    out = aggregate(rows)
    assert out["att_auroc"] == pytest.approx(0.5, abs=0.03)
    assert out["att_auroc_ci_low"] < 0.5 + 0.03 and out["att_auroc_ci_high"] > 0.5 - 0.03
    assert out["att_f1"] == pytest.approx(np.mean(expected_f1), abs=0.03)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_validation(n):
    with pytest.raises(ValueError, match="n: expected an integer >= 1"):
        random_attributions(n, seed=0)
