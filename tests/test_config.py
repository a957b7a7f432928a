"""ExplainConfig: every parameter's validation message, the typed former ``extra`` keys, and
the migration error for a configuration that still has ``extra``."""

from __future__ import annotations

import dataclasses
import re

import pytest

from xai_bench.config import FORMER_EXTRA_KEYS, ConfigError, ExplainConfig
from xai_bench.explain.explainer import query_settings

# (parameter, bad value, other values it needs, the whole message). One case per field of
# ExplainConfig: test_every_parameter_has_a_case fails when a field is added without one.
CASES = [
    ("methods", [], {}, "The 'methods' parameter must be a non-empty list of method names. Got [] instead."),
    ("n_perturbations", 1, {}, "The 'n_perturbations' parameter must be an int in the range [2, 100000]. Got 1 instead."),
    ("keep_prob", 1.0, {}, "The 'keep_prob' parameter must be a float in the range (0, 1). Got 1.0 instead."),
    ("seed", -1, {}, "The 'seed' parameter must be an int >= 0. Got -1 instead."),
    ("max_features", 0, {}, "The 'max_features' parameter must be an int >= 1. Got 0 instead."),
    ("temperature", 2.5, {}, "The 'temperature' parameter must be a float in the range [0, 2]. Got 2.5 instead."),
    ("max_tokens", 0, {}, "The 'max_tokens' parameter must be an int in the range [1, 8192]. Got 0 instead."),
    ("top_p", 0, {}, "The 'top_p' parameter must be None or a float in the range (0, 1]. Got 0 instead."),
    ("system_prompt", 3, {}, "The 'system_prompt' parameter must be None or a string. Got 3 instead."),
    ("sigma", "median", {}, "The 'sigma' parameter must be 'auto' or a float in the range (0, inf). "
                            "Got 'median' instead."),
    ("lime_kernel_width", 0, {}, "The 'lime_kernel_width' parameter must be a float in the range (0, inf). "
                                 "Got 0 instead."),
    ("wasserstein_p", 0.5, {}, "The 'wasserstein_p' parameter must be a float in the range [1, inf). Got 0.5 instead."),
    ("pvalue_permutations", -1, {}, "The 'pvalue_permutations' parameter must be an int >= 0. Got -1 instead."),
    ("alpha", 1, {}, "The 'alpha' parameter must be a float in the range (0, 1). Got 1 instead."),
    ("exclude_nonsignificant", "yes", {}, "The 'exclude_nonsignificant' parameter must be a bool. Got 'yes' instead."),
    ("embedding_model", "", {}, "The 'embedding_model' parameter must be a non-empty string (a sentence-transformers "
                                "model name). Got '' instead."),
    ("api_base", "localhost:8080", {}, "The 'api_base' parameter must be None or an http:// or https:// URL. "
                                       "Got 'localhost:8080' instead."),
    ("timeout", 0, {}, "The 'timeout' parameter must be a float in the range (0, inf). Got 0 instead."),
    ("output_mode", "tokens", {}, "The 'output_mode' parameter must be one of 'text', 'samples', 'logprobs'. "
                                  "Got 'tokens' instead."),
    ("n_samples", 0, {}, "The 'n_samples' parameter must be an int in the range [1, 256]. Got 0 instead."),
    ("top_logprobs", 21, {}, "The 'top_logprobs' parameter must be an int in the range [1, 20]. Got 21 instead."),
    ("num_retries", -1, {}, "The 'num_retries' parameter must be an int in the range [0, 100]. Got -1 instead."),
    ("concurrency", {"openai": 0}, {}, "The 'concurrency' parameter must be None, an int >= 1 or a mapping "
                                       "provider -> int >= 1 (e.g. {'openai': 8, 'default': 4}). "
                                       "Got {'openai': 0} instead."),
    ("max_failure_share", 1.5, {}, "The 'max_failure_share' parameter must be a float in the range [0, 1]. "
                                   "Got 1.5 instead."),
    ("retry_initial_wait", -0.1, {}, "The 'retry_initial_wait' parameter must be a float in the range [0, inf). "
                                     "Got -0.1 instead."),
    ("retry_max_wait", 1.0, {"retry_initial_wait": 2.0}, "The 'retry_max_wait' parameter must be a float in the "
                                                         "range [retry_initial_wait, inf) = [2.0, inf). Got 1.0 instead."),
    ("call_log", " ", {}, "The 'call_log' parameter must be None or a file path. Got ' ' instead."),
    ("sampling", "bandit", {}, "The 'sampling' parameter must be one of 'fixed', 'adaptive'. Got 'bandit' instead."),
    ("adaptive_initial", 7, {}, "The 'adaptive_initial' parameter must be an even int >= 2 (masks come in "
                                "complement pairs). Got 7 instead."),
    ("adaptive_step", 0, {}, "The 'adaptive_step' parameter must be an even int >= 2 (masks come in complement "
                             "pairs). Got 0 instead."),
    ("adaptive_stability", 1.5, {}, "The 'adaptive_stability' parameter must be a float in the range (0, 1]. "
                                    "Got 1.5 instead."),
    ("adaptive_bootstrap", 5, {}, "The 'adaptive_bootstrap' parameter must be an int in the range [10, 10000]. "
                                  "Got 5 instead."),
    ("local_batch_size", 0, {}, "The 'local_batch_size' parameter must be an int in the range [1, 256]. Got 0 instead."),
    ("local_threads", 0, {}, "The 'local_threads' parameter must be None (every core this process may use) or an int "
     ">= 1. Got 0 instead."),
]


def test_every_parameter_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(f.name for f in dataclasses.fields(ExplainConfig))


@pytest.mark.parametrize("name, value, others, message", CASES, ids=[c[0] for c in CASES])
def test_every_parameter_names_itself_and_the_allowed_values(name, value, others, message):
    with pytest.raises(ConfigError) as info:
        ExplainConfig(**others, **{name: value})
    assert str(info.value) == message
    with pytest.raises(ConfigError) as info:  # the same message through a YAML-like mapping
        ExplainConfig.from_dict({**others, name: value})
    assert str(info.value) == message


def test_samples_need_a_positive_temperature():
    with pytest.raises(ConfigError, match=re.escape("'temperature' parameter must be a float in the range (0, 2] "
                                                    "when output_mode is 'samples'")):
        ExplainConfig(output_mode="samples", temperature=0.0)
    assert ExplainConfig(output_mode="samples", temperature=0.7).output_options.n_samples == 8


def test_the_former_extra_keys_are_fields_with_the_old_defaults():
    c = ExplainConfig()
    assert set(FORMER_EXTRA_KEYS) <= {f.name for f in dataclasses.fields(ExplainConfig)}
    assert (c.output_mode, c.n_samples, c.top_logprobs) == ("text", 8, 10)
    s = query_settings("openai/x", c)
    assert (s.num_retries, s.concurrency, s.max_failure_share, s.retry_initial_wait, s.retry_max_wait) == \
        (3, None, 0.1, 0.5, 20.0)
    s = query_settings("openai/x", ExplainConfig(num_retries=0, concurrency={"openai": 8, "default": 2},
                                                 max_failure_share=0.5, retry_initial_wait=0.1, retry_max_wait=1.0,
                                                 call_log="calls.jsonl"))
    assert (s.num_retries, s.effective_concurrency(), s.max_failure_share, s.retry_initial_wait, s.retry_max_wait,
            s.call_log) == (0, 8, 0.5, 0.1, 1.0, "calls.jsonl")


def test_a_misspelled_key_gets_a_hint():
    with pytest.raises(ConfigError, match=r"Unknown key 'output_mod' in the explain configuration\. "
                                          r"Did you mean 'output_mode'\?"):
        ExplainConfig.from_dict({"output_mod": "samples"})


def test_a_configuration_with_extra_gets_a_migration_message():
    with pytest.raises(ConfigError) as info:
        ExplainConfig.from_dict({"temperature": 0.8, "extra": {"output_mode": "samples", "n_samples": 4,
                                                               "max_new_tokens": 3}})
    msg = str(info.value)
    assert msg.startswith("The 'extra' key in the explain configuration was removed")
    assert "Write {output_mode: 'samples', n_samples: 4} instead of {extra: {output_mode: 'samples', n_samples: 4}}" \
        in msg
    assert all(k in msg for k in FORMER_EXTRA_KEYS) and "'max_new_tokens'" in msg
