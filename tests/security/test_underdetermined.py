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
