"""Adaptive perturbation (issue 11, item 1): valid, disjoint complement pairs; a stopping rule that
stops; the original sent once; fixed sampling unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xai_bench.config import ConfigError, ExplainConfig
from xai_bench.explain.adaptive import bootstrap_stability, paired_masks
from xai_bench.explain.explainer import explain
from xai_bench.explain.features import prompt_features
from xai_bench.explain.perturbation import generate_perturbations

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(d=st.integers(1, 22), n_pairs=st.integers(0, 40), keep_prob=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**32 - 1), rounds=st.integers(1, 3))
def test_pairs_are_valid_complements_unique_and_disjoint_from_earlier_rounds(d, n_pairs, keep_prob, seed, rounds):
    rng = np.random.default_rng(seed)
    anchor = np.ones(d, dtype=np.int8)
    seen = {anchor.tobytes()}
    drawn: list[np.ndarray] = []
    for _ in range(rounds):
        before = set(seen)
        masks = paired_masks(d, n_pairs, keep_prob=keep_prob, rng=rng, seen=seen)
        assert masks.dtype == np.int8 and masks.ndim == 2 and masks.shape[1] == d
        assert masks.shape[0] % 2 == 0
        assert set(np.unique(masks)) <= {0, 1}
        if masks.size:
            assert masks.sum(axis=1).min() >= 1  # never the empty prompt
            assert masks.sum(axis=1).max() <= d - 1  # never the original (the anchor)
            assert np.all(masks[0::2] + masks[1::2] == 1)  # complement pairs
        assert not any(m.tobytes() in before for m in masks)  # nothing drawn in an earlier round
        assert {m.tobytes() for m in masks} <= seen
        drawn += list(masks)
    assert len({m.tobytes() for m in drawn}) == len(drawn)  # unique across rounds
    available = 2 ** (d - 1) - 1 if d >= 2 else 0  # complement pairs of non-empty, non-full masks
    assert len(drawn) == 2 * min(n_pairs * rounds, available)


def test_the_mask_space_runs_out_and_then_nothing_is_drawn():
    rng = np.random.default_rng(0)
    seen = {np.ones(3, dtype=np.int8).tobytes()}
    first = paired_masks(3, 5, keep_prob=0.5, rng=rng, seen=seen)
    assert first.shape == (6, 3)  # the 6 masks of 3 words that are neither empty nor full
    assert paired_masks(3, 5, keep_prob=0.5, rng=rng, seen=seen).shape == (0, 3)


def test_sizes_are_stratified_over_the_binomial():
    masks = paired_masks(20, 10, keep_prob=0.5, rng=np.random.default_rng(3), seen=set())
    sizes = masks[0::2].sum(axis=1)
    assert np.all(np.diff(sizes) >= 0)  # pair i keeps the (i + u) / m quantile: non-decreasing
    assert sizes[0] <= 8 and sizes[-1] >= 12  # both tails of Binomial(20, 0.5) are reached


def _design(d: int, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    masks = paired_masks(d, n_pairs, keep_prob=0.5, rng=np.random.default_rng(seed), seen=set())
    return masks, np.repeat(np.arange(n_pairs), 2)


def test_bootstrap_stability_separates_signal_from_noise(seed):
    rng = np.random.default_rng(seed)
    masks, units = _design(10, 40, seed)  # about 25 distinct pairs per resample: every one determined
    beta = np.linspace(-1.0, 1.0, 10)
    linear = masks @ beta
    noise = rng.normal(size=masks.shape[0])
    w = np.ones(masks.shape[0])
    kw = dict(penalty=1e-6, n_boot=50)
    assert bootstrap_stability(masks, linear, w, units, rng=rng, **kw) > 0.99
    assert bootstrap_stability(masks, noise, w, units, rng=rng, **kw) < 0.8
    assert bootstrap_stability(masks, np.zeros(masks.shape[0]), w, units, rng=rng, **kw) == 1.0


PROMPT = "please tell me about the volcano near the small town by the glacier today"
ORACLE = "oracle:volcano,glacier"


def test_adaptive_stops_when_stable_sends_the_original_once_and_finds_the_keywords(embedder):
    cfg = ExplainConfig(methods=("gsmile", "lime"), sampling="adaptive", pvalue_permutations=0, seed=0)
    exps = explain(PROMPT, ORACLE, cfg, embedder=embedder, progress=False)
    e = exps["gsmile"]
    trace = e.usage["adaptive"]
    assert trace["stopped"] == "stable"
    assert trace["stability"][-1] >= cfg.adaptive_stability
    assert all(s < cfg.adaptive_stability for s in trace["stability"][:-1])
    masks = np.array([r.mask for r in e.perturbations])
    assert trace["sizes"][-1] == len(masks) < cfg.n_perturbations
    assert masks[0].all()  # the anchor: the original prompt, answered by the original query
    assert len({m.tobytes() for m in masks.astype(np.int8)}) == len(masks)
    f = prompt_features(PROMPT)
    assert [r.prompt for r in e.perturbations] == [f.render(m) for m in masks]
    assert e.usage["llm_calls"] == len(masks)  # the original once, every other prompt once
    assert e.config["sampling"] == "adaptive"
    for m in ("gsmile", "lime"):
        assert {w for _, w, _ in exps[m].top(2)} == {"volcano", "glacier"}, (m, exps[m].top(3))


def test_adaptive_stops_at_the_budget_when_never_stable(embedder):
    cfg = ExplainConfig(methods=("gsmile",), sampling="adaptive", pvalue_permutations=0, seed=0,
                        n_perturbations=20, adaptive_stability=1.0)
    e = explain(PROMPT, ORACLE, cfg, embedder=embedder, progress=False)["gsmile"]
    trace = e.usage["adaptive"]
    assert trace["stopped"] == "budget"
    assert len(e.perturbations) == trace["sizes"][-1] <= 20
    assert trace["sizes"] == sorted(trace["sizes"]) and len(trace["sizes"]) >= 3


def test_fixed_sampling_is_unchanged(embedder):
    cfg = ExplainConfig(methods=("gsmile",), n_perturbations=16, pvalue_permutations=0, seed=4)
    assert cfg.sampling == "fixed"
    e = explain(PROMPT, ORACLE, cfg, embedder=embedder, progress=False)["gsmile"]
    want = generate_perturbations(prompt_features(PROMPT), n=16, keep_prob=cfg.keep_prob, seed=4).masks
    assert np.array_equal(np.array([r.mask for r in e.perturbations]), want)
    assert "adaptive" not in e.usage


def test_adaptive_needs_text_outputs():
    with pytest.raises(ConfigError, match="'output_mode' parameter must be 'text' when sampling is 'adaptive'"):
        ExplainConfig(sampling="adaptive", output_mode="samples", temperature=0.7)
