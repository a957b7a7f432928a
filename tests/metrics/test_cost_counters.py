"""Cost counters reported beside the metrics (issue 11): calls and tokens per prompt and method."""

from __future__ import annotations

from xai_bench.metrics.registry import COST_COUNTERS, direction


def test_calls_and_tokens_are_lower_is_better_cost_counters():
    for name in ("llm_calls", "prompt_tokens", "completion_tokens", "seconds"):
        assert name in COST_COUNTERS
        assert direction(name) == "lower"
