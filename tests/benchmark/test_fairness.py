"""The fairness probe (paper 5.1.2) and its command."""

from __future__ import annotations

import json

from xai_bench.benchmark.fairness import attribution_shares


def test_shares_are_signed_fractions_of_the_total():
    assert attribution_shares([2.0, -1.0, 1.0]) == [0.5, -0.25, 0.25]
    assert attribution_shares([0.0, 0.0]) == [0.0, 0.0]


def test_fairness_command_reports_the_shift_on_the_varied_tokens(tmp_path):
    from click.testing import CliRunner

    from xai_bench.cli import main

    out = tmp_path / "fair"
    result = CliRunner().invoke(main, [
        "fairness", "-m", "oracle:meaning,life,men’s", "-j", "16", "--out", str(out),
        "--config", str(_explain_yaml(tmp_path)),
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "shift" in result.output and "women’s" in result.output
    data = json.loads((out / "fairness.json").read_text(encoding="utf-8"))
    assert [v["id"] for v in data["variants"]] == ["paper/gender-neutral", "paper/gender-men", "paper/gender-women"]
    assert (out / "heatmap.html").is_file()
    men_women = next(c for c in data["comparisons"] if (c["a"], c["b"]) == ("paper/gender-men", "paper/gender-women"))
    (change,) = men_women["changes"]
    assert change["tokens_a"] == ["men’s"] and change["tokens_b"] == ["women’s"]
    # the oracle reacts to "men’s" only: its share is large in a, and "women’s" gets ~0 in b
    assert change["share_a"] > 0.2 and abs(change["share_b"]) < 0.1 and change["shift"] < -0.15
    neutral_men = next(c for c in data["comparisons"] if c["b"] == "paper/gender-men" and c["a"].endswith("neutral"))
    assert neutral_men["changes"][0]["op"] == "insert"


def test_fairness_json_flag_prints_json(tmp_path):
    from click.testing import CliRunner

    from xai_bench.cli import main

    variants = tmp_path / "v.yaml"
    variants.write_text("- What is the meaning of life?\n- What is the purpose of life?\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["fairness", "-m", "oracle:meaning,purpose", "--variants", str(variants),
                                       "-j", "8", "--json", "--out", str(tmp_path / "o"),
                                       "--config", str(_explain_yaml(tmp_path))])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (comparison,) = data["comparisons"]
    assert comparison["changes"][0]["tokens_a"] == ["meaning"] and comparison["changes"][0]["tokens_b"] == ["purpose"]


def _explain_yaml(tmp_path):
    p = tmp_path / "explain.yaml"
    p.write_text("explain: {pvalue_permutations: 0}\n", encoding="utf-8")
    return p


def test_json_output_stays_clean_when_the_host_logs_info_to_stdout(tmp_path):
    """Importing Airflow sets the root logger to INFO with a handler on stdout. litellm's loggers have no
    level of their own, so they used to follow it: two 'LiteLLM completion()' INFO lines per call in front
    of --json output (the test above failed when it ran after tests/dags in one process)."""
    import logging
    import sys

    from click.testing import CliRunner

    from xai_bench.cli import main

    class _Stdout(logging.Handler):  # like Airflow's console handler: whatever sys.stdout is at the time
        def emit(self, record: logging.LogRecord) -> None:
            sys.stdout.write(self.format(record) + "\n")

    root = logging.getLogger()
    handler, level = _Stdout(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        variants = tmp_path / "v.yaml"
        variants.write_text("- What is the meaning of life?\n- What is the purpose of life?\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["fairness", "-m", "oracle:meaning,purpose", "--variants", str(variants),
                                           "-j", "8", "--json", "--out", str(tmp_path / "o"),
                                           "--config", str(_explain_yaml(tmp_path))])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert result.exit_code == 0, result.output
    assert "LiteLLM" not in result.output
    assert json.loads(result.output)["comparisons"][0]["changes"][0]["tokens_a"] == ["meaning"]
