"""ECE, Brier and reliability bins of label confidences (metrics.calibration)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.metrics.calibration import calibration


def _sample(rng, n, k, temperature):
    """Labels drawn from the model's own probabilities: calibrated by construction when the
    reported probabilities are the ones sampled from (temperature 1)."""
    logits = rng.normal(0, 2, (n, k))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    gold = np.array([rng.choice(k, p=p) for p in true_p])
    shown = np.exp(logits / temperature) / np.exp(logits / temperature).sum(1, keepdims=True)
    return shown, gold


def test_calibrated_probabilities_have_small_ece_and_overconfident_ones_large():
    rng = np.random.default_rng(0)
    p, y = _sample(rng, 4000, 3, 1.0)
    good = calibration(p, y)
    p_over, y_over = _sample(np.random.default_rng(0), 4000, 3, 0.3)  # sharpened: overconfident
    over = calibration(p_over, y_over)
    assert good.ece < 0.03
    assert over.ece > 0.1 and over.mean_confidence > over.accuracy
    assert over.brier > good.brier
    assert sum(b["n"] for b in good.bins) == 4000


def test_uniform_guess_brier_and_perfect_answers():
    k = 4
    uniform = calibration(np.full((10, k), 1 / k), np.arange(10) % k)
    assert uniform.brier == pytest.approx(1 - 1 / k)
    perfect = calibration(np.eye(k)[[0, 1, 2, 3]], [0, 1, 2, 3])
    assert perfect.ece == 0 and perfect.brier == 0 and perfect.accuracy == 1


@pytest.mark.parametrize("probs, gold, match", [
    ([[0.5, 0.6]], [0], "probability distribution"),
    ([[0.5, 0.5]], [2], r"\[0, 1\]"),
    ([], [], "n >= 1"),
])
def test_bad_input_names_the_problem(probs, gold, match):
    with pytest.raises(ValueError, match=match):
        calibration(probs, gold)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(1, 60), st.integers(2, 6), st.integers(0, 10_000))
def test_bounds(n, k, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), n)
    y = rng.integers(0, k, n)
    c = calibration(p, y)
    assert 0 <= c.ece <= 1 and 0 <= c.brier <= 2 and 1 / k - 1e-9 <= c.mean_confidence <= 1
