"""The synchronous API from a thread whose event loop is running (Jupyter, issue 14)."""

from __future__ import annotations

import asyncio

from xai_bench.config import ExplainConfig
from xai_bench.explain.explainer import explain
from xai_bench.llm.cache import ResponseCache
from xai_bench.llm.query import QuerySettings, query_model


def test_explain_inside_running_event_loop(embedder, tmp_path):
    cfg = ExplainConfig(methods=("gsmile",), n_perturbations=32, seed=1, pvalue_permutations=50)
    cache = ResponseCache(tmp_path / "c.sqlite")

    async def main():
        asyncio.get_running_loop()  # a loop is running here, as in a notebook cell
        return explain("What is the meaning of life ?", "oracle:meaning,life", cfg, embedder=embedder,
                       cache=cache, progress=False)

    exps = asyncio.run(main())
    words = {w for _, w, _ in exps["gsmile"].top(2)}
    assert words == {"meaning", "life"}
    # the answers were cached from the worker thread and are readable from this one
    assert len(cache) > 0
    settings = QuerySettings(model="oracle:meaning,life")
    query_model(["What is the meaning of life ?"], settings, cache=cache, progress=False)

    async def again():
        return query_model(["What is the meaning of life ?"], settings, cache=cache, progress=False)

    assert asyncio.run(again()).replies[0].cached

def test_query_model_inside_running_loop_propagates_errors():
    from xai_bench.llm.query import QueryFailures

    async def main():
        return query_model(["x"], QuerySettings(model="control:error", num_retries=0,
                                                max_failure_share=0.0), progress=False)

    try:
        asyncio.run(main())
    except QueryFailures:
        pass
    except RuntimeError as e:  # the defect: "asyncio.run() cannot be called from a running event loop"
        raise AssertionError(f"RuntimeError from the running loop: {e}") from e
