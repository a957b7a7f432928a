"""White-box ablation on the embedded llama.cpp model: the answer's log-probability and
its leave-one-word-out drops (xai_bench.llm.models.whitebox)."""

from __future__ import annotations

import numpy as np
import pytest

from xai_bench.errors import ModelError
from xai_bench.llm.models.local import local_chat
from xai_bench.llm.models.whitebox import leave_one_out, supports_whitebox

MODEL = "smollm2-135m"
SYSTEM = "You are a helpful assistant. Answer briefly."
PROMPT = "What is the capital city of France ?"


@pytest.fixture(scope="module")
def greedy():
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    out = local_chat(MODEL, msgs, max_tokens=12, temperature=0.0, logprobs=True, top_logprobs=1)
    choice = out["choices"][0]
    return choice["message"]["content"], [t["logprob"] for t in choice["logprobs"]["content"]], choice["finish_reason"]


def test_answer_logprob_matches_the_generation_logprobs(greedy):
    answer, token_lps, finish = greedy
    assert answer.strip()
    lp = leave_one_out(f"local/{MODEL}", SYSTEM, [PROMPT], answer)
    # the generated tokens' own log-probabilities (an end-of-turn token, when generated, is not
    # part of the answer text); a re-tokenisation of the text may split differently, so allow slack
    expected = sum(token_lps[:-1]) if finish == "stop" else sum(token_lps)
    assert lp.shape == (1,)
    assert lp[0] == pytest.approx(expected, abs=0.25)
    assert lp[0] < 0


def test_deterministic_and_zero_for_an_unchanged_prompt(greedy):
    answer = greedy[0]
    words = PROMPT.split()
    variants = [PROMPT, PROMPT] + [" ".join(w for j, w in enumerate(words) if j != i) for i in range(len(words))]
    a = leave_one_out(f"local/{MODEL}", SYSTEM, variants, answer)
    b = leave_one_out(f"local/{MODEL}", SYSTEM, variants, answer)
    np.testing.assert_array_equal(a, b)
    assert a[0] == a[1]  # the same prompt twice: no change, attribution exactly 0
    drops = a[0] - a[2:]
    assert np.ptp(drops) > 0  # removing different words moves the answer's probability differently


def test_only_local_models_and_nonempty_answers():
    assert supports_whitebox("local/smollm2-135m") and not supports_whitebox("oracle:@rationale")
    with pytest.raises(ModelError, match="in-process local"):
        leave_one_out("openai/gpt-4o-mini", None, [PROMPT], "Paris")
    with pytest.raises(ModelError, match="empty"):
        leave_one_out(f"local/{MODEL}", SYSTEM, [PROMPT], "")


def test_label_logprobs_give_a_distribution_over_the_labels():
    from xai_bench.llm.models.whitebox import label_logprobs

    prompt = "Is the following review positive or negative? Answer with one word.\nReview: I loved this film."
    lp = label_logprobs(f"local/{MODEL}", SYSTEM, prompt, ["positive", "negative"])
    assert lp.shape == (2,) and np.isfinite(lp).all() and (lp < 0).all() and lp[0] != lp[1]
    np.testing.assert_array_equal(lp, label_logprobs(f"local/{MODEL}", SYSTEM, prompt, ["positive", "negative"]))
