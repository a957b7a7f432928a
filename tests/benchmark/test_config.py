"""Benchmark configuration: shipped files load, bad values get scikit-learn style messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_bench.benchmark import BenchmarkConfig, load_benchmark_config
from xai_bench.config import ConfigError

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
