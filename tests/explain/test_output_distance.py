"""Distribution-level OWMD: the distances themselves, option validation, and explanations in
"samples" and "logprobs" mode on a noisy control model with planted keywords."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.config import ConfigError, ExplainConfig
from xai_bench.explain.output_distance import logprob_wasserstein, next_token_distribution, pooled_wasserstein

_vec = st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3)
_sample = st.lists(_vec, min_size=1, max_size=4).map(lambda rows: np.array(rows, float))


@settings(max_examples=40, deadline=None)
@given(st.lists(_sample, min_size=1, max_size=3), st.lists(_sample, min_size=1, max_size=3))
def test_pooled_wasserstein_is_a_distance(a, b):
    d = pooled_wasserstein(a, b)
    assert d >= 0 and d == pytest.approx(pooled_wasserstein(b, a), abs=1e-9)
    assert pooled_wasserstein(a, a) == pytest.approx(0, abs=1e-9)


def test_each_sample_carries_equal_mass():
    one = np.zeros((1, 2))
    many = np.ones((9, 2))
    # a 1-token and a 9-token sample weigh the same: half the mass moves sqrt(2)
    assert pooled_wasserstein([one, many], [one, one]) == pytest.approx(np.sqrt(2) / 2)


def test_next_token_distribution_renormalises_top_k():
    toks, w = next_token_distribution([("a", np.log(0.4)), ("b", np.log(0.2)), ("a", np.log(0.1))])
    assert toks == ["a", "b"] and w == pytest.approx([0.5 / 0.7, 0.2 / 0.7])


class _FakeEmbedder:
    def sentence_embeddings(self, texts):
        table = {"cat": [1.0, 0.0], "dog": [0.0, 1.0], "kitten": [0.9, 0.1]}
        return np.array([table.get(t, [0.5, 0.5]) for t in texts])


def test_logprob_wasserstein_uses_token_embeddings_as_ground_cost():
    e = _FakeEmbedder()
    cat = [(" cat", 0.0)]
    assert logprob_wasserstein(cat, cat, e) == 0
    assert logprob_wasserstein(cat, [("kitten", 0.0)], e) < logprob_wasserstein(cat, [("dog", 0.0)], e)
    mixed = [("cat", np.log(0.5)), ("dog", np.log(0.5))]
    assert logprob_wasserstein(cat, mixed, e) == pytest.approx(0.5 * np.sqrt(2))


@pytest.mark.parametrize("options, temperature, match", [
    ({"output_mode": "tokens"}, 0.0, "'output_mode' parameter must be one of"),
    ({"output_mode": "samples"}, 0.0, "'temperature' parameter must be a float in the range \\(0, 2\\] when"),
    ({"output_mode": "samples", "n_samples": 0}, 0.7, "'n_samples' parameter must be an int"),
    ({"output_mode": "logprobs", "top_logprobs": 21}, 0.0, "'top_logprobs' parameter must be an int"),
])
def test_options_are_validated_when_the_config_is_built(options, temperature, match):
    with pytest.raises(ConfigError, match=match):
        ExplainConfig(**options, temperature=temperature)


PROMPT = "Please tell me what the meaning of my life could be ."
TRUTH = {"meaning", "life"}


def _top2(e) -> set[str]:
    return {w for _, w, _ in e.top(2)}


@pytest.mark.parametrize("options, temperature, calls", [
    ({"output_mode": "samples", "n_samples": 8}, 0.8, 8 * 33),
    ({"output_mode": "logprobs", "top_logprobs": 8}, 0.0, 1 + 33),
])
def test_distribution_modes_recover_planted_keywords(options, temperature, calls, embedder, tmp_path):
    from xai_bench.llm.cache import ResponseCache
    from xai_bench.explain.explainer import explain

    cfg = ExplainConfig(n_perturbations=32, seed=0, temperature=temperature, pvalue_permutations=0, **options)
    cache = ResponseCache(tmp_path / "c.sqlite")
    e = explain(PROMPT, "control:noisy-30:meaning,life", cfg, embedder=embedder, cache=cache,
                progress=False)["gsmile"]
    assert _top2(e) == TRUTH
    u = e.usage
    assert u["llm_calls"] + u["cache_hits"] + u["deduplicated"] == calls
    again = explain(PROMPT, "control:noisy-30:meaning,life", cfg, embedder=embedder, cache=cache,
                    progress=False)["gsmile"]
    assert again.usage["llm_calls"] == 0 and again.attributions == e.attributions


def test_logprobs_mode_on_the_embedded_model(embedder):
    from xai_bench.explain.explainer import explain

    cfg = ExplainConfig(n_perturbations=6, seed=0, max_tokens=8, pvalue_permutations=0,
                        output_mode="logprobs", top_logprobs=5)
    e = explain("Name the capital city of France .", "local/smollm2-135m", cfg, embedder=embedder,
                progress=False)["gsmile"]
    assert e.original_response.strip() and np.all(np.isfinite(e.attributions))
    assert all(r.error is None for r in e.perturbations)
    assert all(len(r.response.split()) <= 1 for r in e.perturbations)  # one-token calls
