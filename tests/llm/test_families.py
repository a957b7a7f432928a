"""Model families by prefix: one owner (xai_bench.llm.families) for query, report and tracking."""

from __future__ import annotations

import pytest

from xai_bench.llm.families import CONTROL_PREFIXES, is_control, is_in_process, is_local, local_name
from xai_bench.llm.models._litellm import litellm_model_name
from xai_bench.llm.query import QuerySettings


@pytest.mark.parametrize("model, local, control", [
    ("local/smollm2-135m", True, False),
    ("oracle:meaning,life", False, True),
    ("oracle/meaning,life", False, True),
    ("control:empty", False, True),
    ("control/flaky-10", False, True),
    ("openai/gpt-4o-mini", False, False),
    ("ollama/oracle:7b", False, False),  # a prefix, not a substring
])
def test_families(model, local, control):
    assert is_local(model) is local and is_control(model) is control
    assert is_in_process(model) is (local or control)
    assert QuerySettings(model=model).in_process is (local or control)


def test_control_prefixes_cover_both_spellings_litellm_maps():
    assert set(CONTROL_PREFIXES) == {"oracle:", "oracle/", "control:", "control/"}
    for prefix in CONTROL_PREFIXES:
        assert is_control(litellm_model_name(prefix + "x"))


def test_local_name():
    assert local_name("local/qwen2.5-0.5b") == "qwen2.5-0.5b"
    with pytest.raises(ValueError, match="Expected a model string starting with 'local/'"):
        local_name("oracle:a")


def test_check_control_model_accepts_the_valid_forms_only():
    import pytest

    from xai_bench.errors import ModelError
    from xai_bench.llm.models.control import check_control_model

    for ok in ("control:empty", "control/error", "control:flaky-5", "control:noisy-20:a,b", "oracle:a", "openai/x"):
        check_control_model(ok)
    for bad in ("control:flaky-abc", "control:flaky-101", "control/noisy-x:a", "control:nope"):
        with pytest.raises(ModelError, match="Valid forms"):
            check_control_model(bad)
