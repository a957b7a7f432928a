"""Benchmark configuration: shipped files load, bad values get scikit-learn style messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xai_bench.benchmark import BenchmarkConfig, load_benchmark_config
from xai_bench.config import ConfigError, ExplainConfig

REPO = Path(__file__).resolve().parents[2]
BASE = {"models": ["oracle:a"], "datasets": [{"name": "paper"}]}


BENCHMARK_CONFIGS = sorted(p for p in (REPO / "configs").glob("*.yaml") if p.name != "gate-thresholds.yaml")


@pytest.mark.parametrize("path", BENCHMARK_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    config = load_benchmark_config(path)
    assert config.name == path.stem
    assert BenchmarkConfig.from_dict(config.to_dict()).config_hash() == config.config_hash()
    for spec in config.datasets:
        assert spec.resolved_path().is_file(), spec


def test_paper_table9_has_every_distance_surrogate_combination():
    config = load_benchmark_config(REPO / "configs" / "paper-table9.yaml")
    combos = {(s.input_distance, s.output_distance, s.surrogate) for s in config.method_specs.values()}
    assert len(combos) == 18


def test_sweep_gives_one_setting_per_value():
    config = load_benchmark_config(REPO / "configs" / "paper-table6-8.yaml")
    assert [c.n_perturbations for _, c in config.settings()] == [32, 64, 128, 256]


@pytest.mark.parametrize("values, message", [
    ({**BASE, "sed": 1}, "Unknown key 'sed' in the benchmark configuration. Did you mean 'seed'?"),
    ({**BASE, "seed": -1}, "The 'seed' parameter must be an int >= 0. Got -1 instead."),
    ({**BASE, "methods": ["gsmil"]}, "Unknown method 'gsmil'. Did you mean 'gsmile'?"),
    ({**BASE, "metrics": {"consistency_runs": 1}}, "The 'metrics.consistency_runs' parameter must be 0 (off)"),
    ({**BASE, "metrics": {"stabilty": True}}, "Did you mean 'stability'?"),
    ({**BASE, "explain": {"n_perturbation": 3}}, "Did you mean 'n_perturbations'?"),
    ({**BASE, "explain": {"seed": 3}}, "Set 'seed' at the top level"),
    ({**BASE, "sweep": {"n_perturbation": [2]}}, "Did you mean 'n_perturbations'?"),
    ({**BASE, "datasets": [{"name": "paper", "limit": 0}]}, "must be None or an int >= 1. Got 0 instead."),
    ({**BASE, "variants": {"v": {"input_distance": "l2"}}}, "'variants.v.input_distance' parameter must be one of"),
    ({**BASE, "methods": ["random"]}, "set 'random_baseline: true'"),
    ({"datasets": [{"name": "paper"}]}, "needs a 'models' key"),
])
def test_bad_values_are_refused_with_a_readable_message(values, message):
    with pytest.raises(ConfigError) as info:
        BenchmarkConfig.from_dict(values)
    assert message in str(info.value)


def test_config_hash_and_overrides():
    a = BenchmarkConfig.from_dict(BASE)
    assert a.config_hash() == BenchmarkConfig.from_dict(dict(BASE)).config_hash()
    b = a.replace(limit=3, seed=7)
    assert b.seed == 7 and b.explain.seed == 7 and all(d.limit == 3 for d in b.datasets)
    assert b.config_hash() != a.config_hash()
    assert a.replace(limit=None, seed=None) == a


def test_a_credential_in_the_configuration_is_refused_before_any_work(tmp_path):
    """Issue 12, item 3: a key in explain.extra used to be copied in plain text into the run's files."""
    import subprocess

    from tests.conftest import xai_bench_cmd

    key = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    cfg = tmp_path / "secret.yaml"
    cfg.write_text(f"models: ['oracle:meaning,life']\ndatasets: [paper]\nexplain: {{extra: {{api_key: '{key}'}}}}\n")
    out = tmp_path / "run"
    r = subprocess.run([*xai_bench_cmd(), "run", "--config", str(cfg), "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "explain.extra.api_key" in r.stderr and "OPENAI_API_KEY" in r.stderr and "llm_conn_id" in r.stderr
    assert key not in r.stderr + r.stdout and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("extra, place", [
    ({"headers": {"Authorization": "Bearer abc"}}, "extra.headers.Authorization"),
    ({"note": "sk-" + "x" * 24}, "extra.note"),
    ({"keys": [{"password": "p"}]}, "extra.keys[0].password"),
])
def test_explain_config_refuses_credentials_anywhere_even_in_a_former_extra(extra, place):
    """A credential is named before anything else, even in an old configuration's 'extra'."""
    with pytest.raises(ConfigError, match=re.escape(place)):
        ExplainConfig.from_dict({"extra": extra})
    with pytest.raises(ConfigError, match=re.escape("explain." + place)):
        BenchmarkConfig.from_dict({**BASE, "explain": {"extra": extra}})


def test_explain_config_refuses_a_credential_in_a_typed_field():
    with pytest.raises(ConfigError, match="The value of 'system_prompt' looks like an API key"):
        ExplainConfig(system_prompt="sk-" + "x" * 24)


def test_ordinary_token_settings_are_not_credentials():
    from xai_bench.config import refuse_secrets

    assert ExplainConfig(max_tokens=12, top_logprobs=5).max_tokens == 12
    refuse_secrets({"max_new_tokens": 3, "top_logprobs": 5, "max_tokens": 12})


def test_a_benchmark_configuration_with_explain_extra_gets_a_migration_message():
    with pytest.raises(ConfigError) as info:
        BenchmarkConfig.from_dict({**BASE, "explain": {"temperature": 0.8, "extra": {"output_mode": "samples"}}})
    assert str(info.value).startswith("The 'extra' key in explain was removed: its settings are now keys of explain "
                                      "itself (output_mode, n_samples, ")
    assert "Write {output_mode: 'samples'} instead of {extra: {output_mode: 'samples'}}" in str(info.value)
    config = BenchmarkConfig.from_dict({**BASE, "explain": {"temperature": 0.8, "output_mode": "samples",
                                                            "concurrency": {"openai": 8}}})
    assert config.explain.output_mode == "samples" and config.explain.concurrency == {"openai": 8}
    assert BenchmarkConfig.from_dict(config.to_dict()) == config
