"""The query layer: dedupe, cache hits, concurrency limits, retries with accounting, failure share,
per-call log and the usage block of explanation.json. Test providers run through the real
litellm call path (a ``litellm.CustomLLM`` registered as provider ``qtest``)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from xai_bench.llm.cache import ResponseCache
from xai_bench.config import ExplainConfig
from xai_bench.llm.query import QueryFailures, QuerySettings, is_retryable, query_model


class _Recorder:
    """What the qtest provider saw: calls per prompt, peak concurrency, planned failures."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.peak = 0
        self.fail_first: dict[str, tuple[int, int]] = {}  # prompt -> (n failures, status)
        self.delay = 0.0
        self.lock = threading.Lock()


REC = _Recorder()


@pytest.fixture(scope="module", autouse=True)
def qtest_provider():
    from litellm import CustomLLM
    from litellm.llms.custom_llm import CustomLLMError
    from litellm.utils import custom_llm_setup

    from xai_bench.llm.models._litellm import get_litellm
    from xai_bench.llm.models._response import last_user_message, make_response

    litellm = get_litellm()

    class QTest(CustomLLM):
        async def acompletion(self, model, messages, *args, **kwargs):
            prompt = last_user_message(messages)
            with REC.lock:
                REC.calls[prompt] = REC.calls.get(prompt, 0) + 1
                n = REC.calls[prompt]
                REC.in_flight += 1
                REC.peak = max(REC.peak, REC.in_flight)
            try:
                await asyncio.sleep(REC.delay)
                fails, status = REC.fail_first.get(prompt, (0, 0))
                if n <= fails:
                    raise CustomLLMError(status_code=status, message=f"injected {status}")
                return make_response(model=f"qtest/{model}", text=f"echo {prompt}", prompt_tokens=3,
                                     completion_tokens=2)
            finally:
                with REC.lock:
                    REC.in_flight -= 1

    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "qtest"] + [
        {"provider": "qtest", "custom_handler": QTest()}]
    custom_llm_setup()
    yield


@pytest.fixture(autouse=True)
def _reset():
    REC.calls.clear()
    REC.fail_first.clear()
    REC.peak = REC.in_flight = 0
    REC.delay = 0.0


def _fast(**kw) -> QuerySettings:
    return QuerySettings(model="qtest/m", retry_initial_wait=0.01, retry_max_wait=0.05, **kw)


def test_duplicates_are_sent_once_and_replies_stay_aligned():
    prompts = ["a", "b", "a", "c", "b", "a"]
    res = query_model(prompts, _fast(), progress=False)
    assert [r.text for r in res.replies] == [f"echo {p}" for p in prompts]
    assert REC.calls == {"a": 1, "b": 1, "c": 1}
    assert res.usage.llm_calls == 3 and res.usage.deduplicated == 3
    assert res.usage.prompt_tokens == 9 and res.usage.completion_tokens == 6


def test_second_run_is_all_cache_hits(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    first = query_model(["a", "b", "c"], _fast(), cache=cache, progress=False)
    second = query_model(["a", "b", "c"], _fast(), cache=cache, progress=False)
    assert first.usage.llm_calls == 3 and second.usage.llm_calls == 0 and second.usage.cache_hits == 3
    assert all(r.cached and r.attempts == 0 for r in second.replies)
    assert sum(REC.calls.values()) == 3
    assert [r.text for r in first.replies] == [r.text for r in second.replies]


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit_for_remote_models(limit):
    REC.delay = 0.05
    res = query_model([f"p{i}" for i in range(10)], _fast(concurrency=limit), progress=False)
    assert res.usage.llm_calls == 10
    assert REC.peak == limit


def test_concurrency_per_provider_and_in_process_serialised():
    assert QuerySettings(model="openai/x", concurrency={"openai": 8, "default": 2}).effective_concurrency() == 8
    assert QuerySettings(model="anthropic/x", concurrency={"openai": 8, "default": 2}).effective_concurrency() == 2
    assert QuerySettings(model="openai/x").effective_concurrency() == 4
    for m in ("local/smollm2-135m", "oracle:a", "control:error"):
        assert QuerySettings(model=m, concurrency=16).effective_concurrency() == 1


def test_rate_limits_and_5xx_are_retried_and_counted():
    REC.fail_first.update({"a": (2, 429), "b": (1, 503), "c": (0, 0)})
    res = query_model(["a", "b", "c"], _fast(num_retries=3), progress=False)
    assert all(r.ok for r in res.replies)
    assert [r.attempts for r in res.replies] == [3, 2, 1]
    assert res.usage.llm_calls == 3 and res.usage.retries == 3 and res.usage.failed_calls == 0
    assert REC.calls == {"a": 3, "b": 2, "c": 1}


def test_client_errors_are_not_retried():
    REC.fail_first.update({"bad": (5, 400)})
    res = query_model(["bad", "ok1", "ok2", "ok3"], _fast(num_retries=3, max_failure_share=0.5), progress=False)
    bad = res.replies[0]
    assert not bad.ok and bad.attempts == 1 and "BadRequest" in bad.error
    assert REC.calls["bad"] == 1 and res.usage.failed_calls == 1 and res.usage.retries == 0


def test_retries_give_up_after_num_retries():
    REC.fail_first.update({"a": (10, 503)})
    res = query_model(["a", "b", "c", "d"], _fast(num_retries=2, max_failure_share=0.3), progress=False)
    assert REC.calls["a"] == 3 and res.replies[0].attempts == 3 and res.usage.retries == 2
    assert res.usage.failed_calls == 1 and len(res.errors) == 1


def test_failure_share_raises_with_a_summary_and_keeps_the_answers(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    prompts = [f"word{i} other" for i in range(40)]
    with pytest.raises(QueryFailures) as info:
        query_model(prompts, QuerySettings(model="control:flaky-50", num_retries=0, max_failure_share=0.1),
                    cache=cache, progress=False)
    err = info.value
    failed = err.result.usage.failed_calls
    assert 0 < failed < 40
    assert f"{failed} of 40 calls" in str(err) and "ServiceUnavailableError" in str(err)
    assert "max_failure_share=10%" in str(err)
    assert len(cache) == 40 - failed  # the answers that arrived are cached, the errors are not
    # under the share the run completes and every call is accounted for
    res = query_model(prompts, QuerySettings(model="control:flaky-50", num_retries=0, max_failure_share=0.9),
                      cache=cache, progress=False)
    assert res.usage.cache_hits == 40 - failed and res.usage.llm_calls == failed
    assert res.usage.failed_calls == failed and len(cache) == 40 - failed


def test_call_log_has_one_line_per_prompt(tmp_path):
    log = tmp_path / "calls.jsonl"
    cache = ResponseCache(tmp_path / "c.sqlite")
    REC.fail_first.update({"b": (1, 429)})
    query_model(["a", "b", "a"], _fast(call_log=log), cache=cache, progress=False)
    query_model(["a"], _fast(call_log=log), cache=cache, progress=False)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(recs) == 3
    assert {r["attempts"] for r in recs[:2]} == {1, 2} and recs[2]["cached"] is True
    for r in recs:
        assert set(r) >= {"prompt_sha256", "latency_s", "prompt_tokens", "completion_tokens", "cost_usd", "cached",
                          "error", "attempts", "sample"}


def test_is_retryable():
    import litellm

    assert is_retryable(litellm.RateLimitError("x", llm_provider="p", model="m"))
    assert is_retryable(litellm.Timeout("x", llm_provider="p", model="m"))
    assert not is_retryable(litellm.BadRequestError("x", llm_provider="p", model="m"))
    assert not is_retryable(ValueError("x"))


def test_explanation_usage_block(tmp_path, embedder):
    from xai_bench.explain.explainer import explain

    cfg = ExplainConfig(n_perturbations=8, pvalue_permutations=0, seed=0)
    cache = ResponseCache(tmp_path / "c.sqlite")
    e = explain("What is the meaning of life ?", "oracle:meaning,life", cfg, cache=cache, embedder=embedder,
                progress=False)["gsmile"]
    for key in ("llm_calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "retries",
                "failed_calls", "deduplicated"):
        assert key in e.usage
    assert e.usage["llm_calls"] + e.usage["cache_hits"] + e.usage["deduplicated"] == 9
    assert e.usage["cost_usd"] == 0.0 and e.usage["prompt_tokens"] > 0
    d = json.loads(json.dumps(e.to_dict()))
    assert d["usage"]["llm_calls"] == e.usage["llm_calls"]
