"""The token cost of an explanation (issue 11): QueryStage.tokens counts every distinct prompt's
tokens, answered from the cache or not, so the reported cost is the same in every run."""

from __future__ import annotations

from xai_bench.config import ExplainConfig
from xai_bench.explain.explainer import query_stage
from xai_bench.explain.features import prompt_features
from xai_bench.explain.perturbation import generate_perturbations
from xai_bench.llm.cache import ResponseCache
from xai_bench.llm.models.oracle import oracle_answer

PROMPT = "what is the meaning of life and the universe"


def test_tokens_count_distinct_prompts_cached_or_not(tmp_path):
    f = prompt_features(PROMPT)
    perts = generate_perturbations(f, n=12, seed=0)
    cfg = ExplainConfig(n_perturbations=12, pvalue_permutations=0)
    cache = ResponseCache(tmp_path / "r.sqlite")
    try:
        fresh = query_stage(f, perts, "oracle:meaning,life", cfg, cache=cache, progress=False)
        again = query_stage(f, perts, "oracle:meaning,life", cfg, cache=cache, progress=False)
    finally:
        cache.close()
    prompts = list(dict.fromkeys([f.text, *perts.texts]))
    # the oracle counts whitespace-separated words of the prompt it reads and of its answer
    want_prompt = sum(len(p.split()) for p in prompts)
    want_completion = sum(len(oracle_answer(p, ("meaning", "life")).split()) for p in prompts)
    assert fresh.tokens == {"prompt_tokens": want_prompt, "completion_tokens": want_completion}
    assert again.tokens == fresh.tokens  # the cost of the explanation, not of this run
    assert again.usage["prompt_tokens"] == 0 and again.usage["cache_hits"] == len(prompts)  # fresh calls only
