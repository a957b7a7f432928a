"""Planted credentials and a byte scanner for the secret-leak tests (issue 12, item 2).

Every key is distinct, so a hit names the route it took. The prompt key is not a credential:
a prompt's text is data and must be kept as given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ENV_KEYS = {
    "OPENAI_API_KEY": "sk-leaktest-ENV-openai-0001aaaaaaaa",
    "ANTHROPIC_API_KEY": "sk-leaktest-ENV-anthropic-0002bbbbbbbb",
    "HF_TOKEN": "hf_leaktestENVhuggingface0003cccc",
    "XAI_LEAKTEST_PASSWORD": "leaktest-ENV-password-0004dddd",  # not key-shaped: found by its name only
}
CONN_PASSWORD = "sk-leaktest-CONN-password-0005eeeeeeee"
CONN_HEADER = "Bearer leaktest-CONN-header-0006ffff"
CONN_ID = "xai_bench_leaktest"
CONN_ENV = "AIRFLOW_CONN_" + CONN_ID.upper()
CONN_VALUE = json.dumps({"conn_type": "litellm", "password": CONN_PASSWORD, "host": "http://127.0.0.1:9",
                         "extra": {"headers": {"Authorization": CONN_HEADER}}})
CONFIG_KEY = "sk-leaktest-CONFIG-0007gggggggg"
PROMPT_KEY = "sk-leaktest-PROMPT-0008hhhhhhhh"

CREDENTIALS = {**{f"env {k}": v for k, v in ENV_KEYS.items()}, "connection password": CONN_PASSWORD,
               "connection header": CONN_HEADER.split(" ", 1)[1], "configuration": CONFIG_KEY}


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """Credentials in the environment and in an Airflow Connection variable; every store
    (response cache, MLflow, audit log) under ``tmp_path`` so that all of it can be scanned."""
    for name, value in ENV_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(CONN_ENV, CONN_VALUE)
    roots = {"cache": tmp_path / "cache", "mlflow": tmp_path / "mlflow", "audit": tmp_path / "audit"}
    for p in roots.values():
        p.mkdir()
    monkeypatch.setenv("XAI_BENCH_CACHE_DIR", str(roots["cache"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{roots['mlflow']}/mlflow.db")
    monkeypatch.setenv("XAI_BENCH_AUDIT_LOG", str(roots["audit"] / "audit.jsonl"))
    return roots


def scan(*roots: Path, needles: dict[str, str] = CREDENTIALS) -> dict[str, list[str]]:
    """{what: [files containing it]} over every byte of every file under ``roots``."""
    hits: dict[str, list[str]] = {}
    files = [f for r in roots for f in ([r] if r.is_file() else sorted(r.rglob("*"))) if f.is_file()]
    assert files, f"nothing was written under {roots}"
    for f in files:
        data = f.read_bytes()
        for what, needle in needles.items():
            if needle.encode() in data:
                hits.setdefault(what, []).append(str(f))
    return hits


def leaktest_dataset(path: Path) -> Path:
    """Three valid rows; the first one's prompt mentions the prompt key (data, kept as given)."""
    rows = [(["What", "is", "the", "key", PROMPT_KEY, "for", "?"], [0, 0, 0, 1, 1, 0, 0]),
            (["Name", "a", "colour", "of", "the", "sky", "."], [0, 0, 1, 0, 0, 1, 0]),
            (["Which", "animal", "barks", "at", "night", "?"], [0, 1, 1, 0, 0, 0])]
    with path.open("w", encoding="utf-8") as f:
        for i, (words, rationale) in enumerate(rows):
            f.write(json.dumps({"id": f"leak-{i}", "dataset": "leaktest", "task": "generation", "template": "{text}",
                                "words": words, "rationale": rationale, "label": None, "label_set": None,
                                "provenance": {"source": "test", "licence": "CC0-1.0", "ref": str(i)}}) + "\n")
    return path
