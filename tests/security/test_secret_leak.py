"""Issue 12, item 2: no credential reaches a file. Distinct fake keys are planted in the
environment, in an Airflow Connection variable, in a configuration (refused at load) and in
a prompt (data: kept as given); ``explain`` and ``run --record`` run on oracle models; every
byte written (run folders, response cache, MLflow store and artifacts, audit log) is scanned.
The DAG part is in test_secret_leak_dag.py (integration, slow)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xai_bench.cli import main
from xai_bench.secrets import REDACTED, known_secrets, redact_data, redact_known, redact_text

from .conftest import (CONFIG_KEY, CONN_HEADER, CONN_PASSWORD, CREDENTIALS, ENV_KEYS, PROMPT_KEY, leaktest_dataset,
                       scan)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_the_policy_knows_the_planted_credentials_and_not_the_prompt(planted):
    known = known_secrets()
    assert set(ENV_KEYS.values()) <= known
    assert CONN_PASSWORD in known and CONN_HEADER in known  # the Connection's password and secret header
    assert PROMPT_KEY not in known and CONFIG_KEY not in known
    text = f"a {ENV_KEYS['XAI_LEAKTEST_PASSWORD']} b {PROMPT_KEY}"
    assert redact_known(text) == f"a {REDACTED} b {PROMPT_KEY}"  # data: only known credentials go
    assert redact_text(text) == f"a {REDACTED} b {REDACTED}"  # metadata: key-shaped strings go too
    assert redact_data({"prompt": PROMPT_KEY, "api_key": "x" * 8, "max_tokens": 48}) == {
        "prompt": PROMPT_KEY, "api_key": REDACTED, "max_tokens": 48}


@pytest.mark.parametrize("yaml_text", [
    "explain: {{extra: {{api_key: '{key}'}}}}\n",
    "explain: {{system_prompt: 'use {key} please'}}\n",
])
def test_a_credential_in_a_configuration_is_refused_before_any_work(planted, tmp_path, yaml_text):
    data = leaktest_dataset(tmp_path / "leaktest.jsonl")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"name: leak\nmodels: ['oracle:@rationale']\ndatasets: [{{name: leaktest, path: {data}}}]\n"
                   + yaml_text.format(key=CONFIG_KEY))
    for args in (["run", "--config", str(cfg), "--out", str(tmp_path / "run")],
                 ["explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "--config", str(cfg),
                  "--out", str(tmp_path / "explain")]):
        r = invoke(*args)
        assert r.exit_code == 2, (args[0], r.output)
        assert "looks like" in r.output and "OPENAI_API_KEY" in r.output and "llm_conn_id" in r.output
        assert CONFIG_KEY not in r.output  # the message names the place, never the value
        assert "Traceback" not in r.output
        assert not (tmp_path / args[0]).exists()  # refused before any output or model call


def test_explain_and_run_record_write_no_credential(planted, tmp_path):
    explain_out, run_out = tmp_path / "explain", tmp_path / "run"
    prompt = f"What is the key {PROMPT_KEY} for ?"
    r = invoke("explain", prompt, "-m", "oracle:key", "-j", "16", "--permutations", "0", "--method", "gsmile",
               "--method", "lime",
               "--out", str(explain_out))
    assert r.exit_code == 0, r.output
    data = leaktest_dataset(tmp_path / "leaktest.jsonl")
    cfg = tmp_path / "leak.yaml"
    cfg.write_text(f"name: leak\nseed: 0\nmodels: ['oracle:@rationale']\n"
                   f"datasets: [{{name: leaktest, path: {data}}}]\nmethods: [gsmile, lime]\n"
                   "explain: {n_perturbations: 16, pvalue_permutations: 0}\n"
                   "metrics: {stability: false, consistency_runs: 0, fidelity_heldout: 8, bootstrap: 50}\n"
                   "cache: default\nheatmap_pngs: 1\n")
    r2 = invoke("run", "--config", str(cfg), "--out", str(run_out), "--record")
    assert r2.exit_code == 0, r2.output
    written = [explain_out, run_out, *planted.values()]
    assert (planted["cache"] / "responses.sqlite").is_file() and (planted["audit"] / "audit.jsonl").is_file()
    assert (planted["mlflow"] / "mlflow.db").is_file() and any((planted["mlflow"] / "artifacts").rglob("*.json"))
    assert scan(*written) == {}, "credentials written to files"
    for output in (r.output, r2.output):
        assert not [what for what, key in CREDENTIALS.items() if key in output]
    # the prompt is data: kept as given in the explanation and in the run folder
    kept = scan(explain_out, run_out, needles={"prompt": PROMPT_KEY})["prompt"]
    assert str(explain_out / "explanation.json") in kept
    assert any("/fit/" in f for f in kept), kept



def test_a_known_credential_typed_into_a_prompt_reaches_no_file(planted, tmp_path):
    """A credential is never data: the environment's key pasted into a prompt is replaced in
    explanation.json, heatmap.html and the response cache (the PNG draws text as pixels)."""
    out = tmp_path / "explain"
    key = ENV_KEYS["XAI_LEAKTEST_PASSWORD"]
    r = invoke("explain", f"Is {key} my password ?", "-m", "oracle:password", "-j", "8", "--permutations", "0",
               "-q", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert (planted["cache"] / "responses.sqlite").is_file()
    assert scan(out, planted["cache"], needles={"key": key}) == {}
    assert REDACTED in (out / "explanation.json").read_text(encoding="utf-8")
    assert REDACTED in (out / "heatmap.html").read_text(encoding="utf-8")
    again = invoke("explain", f"Is {key} my password ?", "-m", "oracle:password", "-j", "8", "--permutations", "0",
                   "-q", "--out", str(tmp_path / "again"))
    assert again.exit_code == 0, again.output  # the cache still answers (its keys were computed before)
