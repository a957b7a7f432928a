"""Issue 12, "Why" bullet 4: 8 perturbations over a long prompt reported R² = 1.0 and an empty
warnings list. Now ``xai-bench explain`` says so in explanation.json and on the terminal,
and a benchmark report counts and names such prompts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from xai_bench.cli import main
from xai_bench.explain.surrogates import UNDERDETERMINED, is_underdetermined_warning


def test_explain_warns_when_perturbations_are_too_few_for_the_words(tmp_path):
    # 200 words + the keyword (the issue used 2,000; the same code path, a tenth of the time)
    prompt = " ".join(f"word{i}" for i in range(200)) + " volcano ?"
    out = tmp_path / "long"
    r = CliRunner().invoke(main, ["explain", prompt, "-m", "oracle:volcano", "-j", "8", "--permutations", "0",
                                  "--max-features", "300", "--no-cache", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "explanation.json").read_text(encoding="utf-8"))
    warnings = [w for w in data["warnings"] if is_underdetermined_warning(w)]
    assert len(warnings) == 1, data["warnings"]
    assert "8 perturbation(s) were fitted for 203 parameters" in warnings[0]
    assert data["fit"]["r2"] is None and data["fit"]["r2w"] is None  # no longer a perfect-looking 1.0
    assert f"warning: {UNDERDETERMINED}" in " ".join(r.stdout.split())  # on the terminal (rich may wrap it)


def test_the_run_report_counts_and_names_underdetermined_prompts(tmp_path):
    """8 perturbations: the 6-word prompt is determined (8 > 7 parameters), 7- and 8-word ones are not."""
    from xai_bench.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.from_dict({
        "name": "few", "models": ["oracle:@rationale"], "methods": ["gsmile"], "random_baseline": False,
        "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 4}],
        "explain": {"n_perturbations": 8, "pvalue_permutations": 0},
        "metrics": {"stability": False, "erasure": False, "fidelity_heldout": 0, "bootstrap": 20},
        "cache": "run", "heatmap_pngs": 0})
    out = tmp_path / "run"
    metrics = json.loads(run_benchmark(config, out, progress=False).read_text(encoding="utf-8"))
    flagged = sorted(item["example_id"] for shard in (out / "fit").glob("*.json")
                     for item in json.loads(shard.read_text(encoding="utf-8"))["explanations"]
                     if any(is_underdetermined_warning(w) for w in item["explanation"]["warnings"]))
    assert flagged and len(flagged) < 4, flagged  # some prompts, not all
    notes = [n for n in metrics["notes"] if "too few included perturbations" in n]
    assert len(notes) == 1 and f"{len(flagged)} prompt(s)" in notes[0], metrics["notes"]
    assert all(i in notes[0] for i in flagged)
    assert notes[0] in (out / "report.md").read_text(encoding="utf-8")
