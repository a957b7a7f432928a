"""Batched decoding on the embedded model (real SmolLM2 through llama.cpp): the same answers as
one-at-a-time decoding for the prompts checked here, identical answers between runs, seeded
sampling per sequence, stop rules, the shared prefix, and the query layer's hook."""

from __future__ import annotations

import pytest

from xai_bench.llm.models.batched import (BatchedReply, DecodeSettings, _pending_utf8, batched_chat, chunks,
                                          common_prefix_length, default_threads)
from xai_bench.llm.models.local import local_chat
from xai_bench.llm.query import QuerySettings, query_model

MODEL = "smollm2-135m"
SYSTEM = "You are a helpful assistant."
PROMPTS = ["What is the meaning of life?", "What is the meaning?", "the meaning of life?", "What is life?",
           "Answer the question by choosing A, B or C.\nQuestion: Where do you keep milk?\nA. fridge\nB. oven\n"
           "C. car\nAnswer:"]


def _msgs(p: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}]


def _batched(prompts: list[str], **kw: object) -> list[BatchedReply]:
    settings = DecodeSettings(batch_size=int(kw.pop("batch_size", 4)), n_threads=1,  # type: ignore[call-overload]
                              prefix_reuse=bool(kw.pop("prefix_reuse", True)))
    params = {"temperature": 0.0, "max_tokens": 12, "seed": 0, **kw}
    return batched_chat(MODEL, [_msgs(p) for p in prompts], settings=settings, **params)


def test_batched_answers_equal_one_at_a_time_and_repeat_exactly():
    sequential = [local_chat(MODEL, _msgs(p), temperature=0.0, max_tokens=12, seed=0, n_threads=1)
                  for p in PROMPTS]
    first = _batched(PROMPTS, batch_size=4)  # chunks of 3 and 2, the prefix shared within each
    again = _batched(PROMPTS, batch_size=4)
    assert [r.text for r in first] == [r.text for r in again]
    assert [r.text for r in first] == [s["choices"][0]["message"]["content"] for s in sequential]
    assert [r.prompt_tokens for r in first] == [s["usage"]["prompt_tokens"] for s in sequential]
    assert [r.completion_tokens for r in first] == [s["usage"]["completion_tokens"] for s in sequential]
    assert all(r.text.strip() for r in first)


def test_prefix_reuse_changes_no_answer():
    with_prefix = _batched(PROMPTS[:4], batch_size=4, prefix_reuse=True)
    without = _batched(PROMPTS[:4], batch_size=4, prefix_reuse=False)
    assert [r.text for r in with_prefix] == [r.text for r in without]


def test_stops_at_max_tokens_and_at_a_stop_string():
    long = _batched(["Write a long story about a dragon."], max_tokens=5)[0]
    assert long.completion_tokens == 5 and long.finish_reason == "length"
    first_word = long.text.split()[0]
    cut = _batched(["Write a long story about a dragon."], max_tokens=5, stop=[first_word])[0]
    assert cut.finish_reason == "stop" and first_word not in cut.text
    assert long.text.startswith(cut.text)


def test_seeded_sampling_is_per_sequence_and_reproducible():
    prompt = "Name a colour."
    seeds = [1, 2, 3, 1]
    a = batched_chat(MODEL, [_msgs(prompt)] * 4, settings=DecodeSettings(batch_size=4, n_threads=1), seeds=seeds,
                     temperature=1.0, max_tokens=8)
    b = batched_chat(MODEL, [_msgs(prompt)] * 4, settings=DecodeSettings(batch_size=4, n_threads=1), seeds=seeds,
                     temperature=1.0, max_tokens=8)
    assert [r.text for r in a] == [r.text for r in b]
    assert a[0].text == a[3].text  # the same seed in another slot of the batch samples the same answer
    assert len({r.text for r in a[:3]}) > 1  # other seeds sample other answers
    alone = local_chat(MODEL, _msgs(prompt), temperature=1.0, max_tokens=8, seed=2, n_threads=1)
    assert a[1].text == alone["choices"][0]["message"]["content"]


def test_query_layer_batches_local_prompts_with_the_same_answers():
    base = QuerySettings(model=f"local/{MODEL}", max_tokens=12, system_prompt=SYSTEM, local_threads=1)
    one = query_model(PROMPTS, base.__class__(**{**base.__dict__, "local_batch_size": 1}), progress=False)
    many = query_model(PROMPTS, base.__class__(**{**base.__dict__, "local_batch_size": 8}), progress=False)
    assert [r.text for r in many.replies] == [r.text for r in one.replies]
    assert many.usage.llm_calls == one.usage.llm_calls == len(PROMPTS)
    assert many.usage.completion_tokens == one.usage.completion_tokens > 0
    assert many.usage.model_seconds > 0


def test_helpers():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5], [6]]) == 0
    assert chunks(65, 16) == [(0, 13), (13, 26), (26, 39), (39, 52), (52, 65)]
    assert chunks(3, 16) == [(0, 3)] and chunks(0, 4) == []
    assert _pending_utf8(b"ab" + "é".encode()[:1]) == 1 and _pending_utf8(b"abc") == 0
    assert _pending_utf8("a€".encode()[:2]) == 1  # a 3-byte lead byte near the end
    assert default_threads() >= 1
    with pytest.raises(ValueError, match="'batch_size' parameter must be an int in the range"):
        DecodeSettings(batch_size=0)
    assert DecodeSettings(batch_size=4, n_threads=3).describe()["n_threads"] == 3


def test_batch_setting_enters_the_cache_key_only_when_used():
    one = QuerySettings(model=f"local/{MODEL}", local_batch_size=1)
    many = QuerySettings(model=f"local/{MODEL}", local_batch_size=16)
    assert "decode" not in one.request("hi")
    assert many.request("hi")["decode"] == "batched:16"
    assert "decode" not in QuerySettings(model=f"local/{MODEL}", local_batch_size=16, logprobs=5).request("hi")
    assert "decode" not in QuerySettings(model="oracle:life", local_batch_size=16).request("hi")
