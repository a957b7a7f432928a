"""Planted ground truth: oracle control models whose answers depend only on keywords.

For every method, the keywords must be the top-ranked words, wherever they stand in the
prompt, when they repeat, and for prompts of 1 to 40 words.
"""

from __future__ import annotations

import numpy as np
import pytest

from xai_bench.config import ExplainConfig
from xai_bench.explain.explainer import explain

METHODS = ("gsmile", "lime", "baylime")

FILLER = ("please tell me briefly about some of the ideas people usually have when they think "
          "carefully and calmly in the evening after a long day at work with friends and family "
          "around a small table near an open window today").split()


def _prompt(n_words: int, keyword_positions: dict[int, str]) -> str:
    words = FILLER[:n_words]
    assert len(words) == n_words
    words = list(words)
    for pos, kw in keyword_positions.items():
        words[pos] = kw
    return " ".join(words)


def _top_positions(exp, k: int) -> set[int]:
    return {pos for pos, _, _ in exp.top(k)}


@pytest.fixture(scope="module")
def cfg() -> ExplainConfig:
    return ExplainConfig(methods=METHODS, n_perturbations=64, seed=1, pvalue_permutations=200)


def test_meaning_of_life_all_methods(cfg, embedder):
    exps = explain("What is the meaning of life ?", "oracle:meaning,life", cfg, embedder=embedder, progress=False)
    for m in METHODS:
        e = exps[m]
        assert {w for _, w, _ in e.top(2)} == {"meaning", "life"}, (m, e.top(3))
        assert len(e.tokens) == len(e.attributions) == 7
        # every other word has a clearly smaller attribution than the weaker keyword
        kw = min(e.attributions[3], e.attributions[5])
        others = [a for i, a in enumerate(e.attributions) if i not in (3, 5)]
        assert kw > 2 * max(others + [0.0]), (m, e.attributions)


@pytest.mark.parametrize(
    "n_words, positions",
    [
        (8, {0: "volcano"}),  # start
        (8, {7: "volcano"}),  # end
        (12, {5: "volcano", 6: "glacier"}),  # middle, adjacent
        (20, {0: "volcano", 19: "glacier"}),  # both ends
        (40, {3: "volcano", 21: "glacier", 38: "desert"}),  # long prompt
        (2, {1: "volcano"}),
    ],
)
def test_keywords_ranked_first(cfg, embedder, n_words, positions):
    prompt = _prompt(n_words, positions)
    model = "oracle:" + ",".join(sorted(set(positions.values())))
    # A 40-word prompt has 41 surrogate parameters: 64 samples leave Bay-LIME's evidence
    # maximisation too little to separate signal from noise (measured: it shrinks every
    # coefficient to ~0), so long prompts get 128 perturbations.
    if n_words > 20:
        cfg = cfg.replace(n_perturbations=128)
    exps = explain(prompt, model, cfg, embedder=embedder, progress=False)
    for m in METHODS:
        e = exps[m]
        assert _top_positions(e, len(positions)) == set(positions), (m, prompt, e.top(len(positions) + 2))
        assert all(np.isfinite(e.attributions))


def test_repeated_keyword(cfg, embedder):
    # "volcano" twice: the answer changes only when BOTH occurrences are removed,
    # so each occurrence is important, and both outrank every other word.
    prompt = "tell me about the volcano and why the volcano erupts"
    exps = explain(prompt, "oracle:volcano", cfg, embedder=embedder, progress=False)
    for m in METHODS:
        e = exps[m]
        assert _top_positions(e, 2) == {4, 8}, (m, e.top(4))
        assert e.tokens.count("the") == 2  # duplicates kept as separate features


def test_single_word_prompt(cfg, embedder):
    exps = explain("volcano", "oracle:volcano", cfg, embedder=embedder, progress=False)
    for m in METHODS:
        e = exps[m]
        assert e.tokens == ["volcano"]
        assert e.attributions == [0.0]
        assert any("one word" in w for w in e.warnings)


def test_irrelevant_words_get_no_weight_when_absent_keyword(cfg, embedder):
    # none of the keywords is in the prompt: the answer never changes -> all attributions 0
    exps = explain("a quiet morning by the lake", "oracle:volcano", cfg, embedder=embedder, progress=False)
    for m in METHODS:
        assert np.allclose(exps[m].attributions, 0.0)


def test_explanation_json_roundtrip(cfg, embedder, tmp_path):
    from xai_bench.explain.explanation import Explanation

    e = explain("What is the meaning of life ?", "oracle:meaning,life", cfg, embedder=embedder, progress=False)["gsmile"]
    path = tmp_path / "e.json"
    e.to_json(path)
    back = Explanation.from_json(path)
    assert back == e
    rec = back.perturbations[0]
    assert rec.prompt and rec.response and rec.weight > 0 and rec.p_value is not None
    # the perturbed prompt sent to the model is exactly the kept words of its mask
    for r in back.perturbations:
        assert r.prompt.split() == [w for w, k in zip(back.tokens, r.mask) if k]


def test_exclude_nonsignificant_drops_rows(embedder):
    cfg = ExplainConfig(methods=("gsmile",), n_perturbations=32, seed=3, pvalue_permutations=200,
                        exclude_nonsignificant=True)
    e = explain("What is the meaning of life ?", "oracle:meaning,life", cfg, embedder=embedder, progress=False)["gsmile"]
    excluded = [r for r in e.perturbations if not r.included]
    included = [r for r in e.perturbations if r.included]
    assert excluded, "perturbations that keep both keywords give the original answer: p = 1, excluded"
    assert all(r.p_value >= cfg.alpha for r in excluded)
    assert all(r.p_value < cfg.alpha for r in included)
    # Excluding them removes every sample in which both keywords are kept, which is why the
    # option is off by default: the ranking is then no longer guaranteed (see ExplainConfig).
    both_kept = [r for r in e.perturbations if r.mask[3] and r.mask[5]]
    assert both_kept and all(not r.included for r in both_kept)
    assert all(r.response == e.original_response for r in both_kept)
    # the surrogate was fitted on the included rows only: refitting them gives its attributions
    from xai_bench.explain.surrogates import fit_surrogate

    refit = fit_surrogate(np.array([r.mask for r in included]), np.array([r.owmd for r in included]),
                          np.array([r.weight for r in included]), "wlr")
    np.testing.assert_allclose(e.attributions, -refit.coefficients, rtol=1e-9, atol=1e-12)
    everything = fit_surrogate(np.array([r.mask for r in e.perturbations]), np.array([r.owmd for r in e.perturbations]),
                               np.array([r.weight for r in e.perturbations]), "wlr")
    assert not np.allclose(e.attributions, -everything.coefficients)  # dropping them did change the fit


def test_underdetermined_fit_is_flagged_in_the_explanation(embedder):
    # 20 words (21 parameters) from 16 perturbations: no residual degree of freedom
    prompt = _prompt(20, {4: "volcano"})
    cfg = ExplainConfig(methods=METHODS, n_perturbations=16, seed=2, pvalue_permutations=0)
    exps = explain(prompt, "oracle:volcano", cfg, embedder=embedder, progress=False)
    for m in METHODS:
        e = exps[m]
        warning = [w for w in e.warnings if "underdetermined" in w]
        assert len(warning) == 1, (m, e.warnings)
        assert "16 perturbation(s) were fitted for 21 parameters" in warning[0]
        assert "At least 22 successful perturbations" in warning[0]
        assert e.fit["r2"] is None and e.fit["r2w"] is None and e.fit["r2w_adj"] is None
        assert e.fit["wmse"] is not None
    determined = explain(prompt, "oracle:volcano", cfg.replace(n_perturbations=64), embedder=embedder,
                         progress=False)["gsmile"]
    assert not any("underdetermined" in w for w in determined.warnings)
