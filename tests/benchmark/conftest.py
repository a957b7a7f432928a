"""Fixtures of the benchmark tests: one oracle-smoke run per session, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = REPO / "configs" / "oracle-smoke.yaml"

REQUIRED_METRICS = (
    "att_acc", "att_f1", "att_auroc", "att_auprc", "comprehensiveness", "sufficiency", "stability_jaccard",
    "consistency_std", "fidelity_r2w", "fidelity_r2w_adj", "fidelity_wmse", "fidelity_wmae", "fidelity_l1",
    "fidelity_l2", "fidelity_r2w_heldout", "seconds", "llm_calls",
)  # fmt: skip


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """(run folder, metrics.json, CLI output) of configs/oracle-smoke.yaml."""
    from click.testing import CliRunner

    from xai_bench.cli import main

    out = tmp_path_factory.mktemp("smoke") / "run"
    result = CliRunner().invoke(main, ["run", "--config", str(SMOKE_CONFIG), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out, json.loads((out / "metrics.json").read_text(encoding="utf-8")), result.output


def tiny_config(**metrics: object):
    """A two-prompt oracle configuration exercising every stage in a few seconds."""
    from xai_bench.benchmark import BenchmarkConfig

    return BenchmarkConfig.from_dict({
        "name": "tiny",
        "models": ["oracle:@rationale"],
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 2}],
        "methods": ["gsmile", "lime"],
        "explain": {"n_perturbations": 16, "pvalue_permutations": 0},
        "metrics": {"stability_changes": ["append"], "consistency_runs": 2, "fidelity_heldout": 8,
                    "bootstrap": 200, **metrics},
        "cache": "run",
        "heatmap_pngs": 0,
    })


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of ``tiny_config()``, run in process."""
    from xai_bench.benchmark import run_benchmark

    out = tmp_path_factory.mktemp("tiny") / "run"
    run_benchmark(tiny_config(), out, progress=False)
    return out
