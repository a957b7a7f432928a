"""A real run on the embedded llama.cpp model (SmolLM2-135M) through litellm, kept small."""

from __future__ import annotations

import numpy as np

from xai_bench.config import ExplainConfig
from xai_bench.explain.explainer import explain


def test_smollm2_explanation_is_complete_and_finite(embedder):
    cfg = ExplainConfig(methods=("gsmile", "lime", "baylime"), n_perturbations=8, max_tokens=12, seed=0,
                        pvalue_permutations=100)
    exps = explain("Name the capital city of France .", "local/smollm2-135m", cfg, embedder=embedder, progress=False)
    g = exps["gsmile"]
    assert g.original_response.strip(), "the embedded model answered nothing"
    assert len(g.perturbations) == 8
    assert g.usage["llm_calls"] + g.usage["cache_hits"] == 9
    for e in exps.values():
        assert np.all(np.isfinite(e.attributions)) and len(e.attributions) == 7
        assert all(0 < r.weight <= 1 for r in e.perturbations)
        assert all(r.p_value is None or 0 < r.p_value <= 1 for r in e.perturbations)
    # temperature 0 is deterministic: a second explanation (cache off) gives the same answers
    again = explain("Name the capital city of France .", "local/smollm2-135m", cfg.replace(methods=("gsmile",)),
                    embedder=embedder, progress=False)["gsmile"]
    assert [r.response for r in again.perturbations] == [r.response for r in g.perturbations]
    assert np.allclose(again.attributions, g.attributions)
