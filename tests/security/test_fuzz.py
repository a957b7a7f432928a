"""Issue 12, item 3: fuzzed entry points (hypothesis). Hostile prompts, configurations and data
set rows give a clean exit code and a one-line error or a valid result, never a traceback;
terminal output shows markup literally; HTML output holds no raw control characters.

In-process CLI calls on oracle models, a fixed seed (``derandomize``) and modest example
counts keep this reproducible and well under a minute together.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xai_bench.cli import main
from xai_bench.config import ExplainConfig
from xai_bench.datasets.loading import load_dataset
from xai_bench.errors import DataValidationError

FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=8, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # not \t \n \r

MARKUP = ["[/bold]", "[bold]", "[link=http://evil.example]", "[/link]", "[red]", "[/]", "[[", "]]", "[i]x[/i]",
          "[@click=quit]", "\\[escaped]", ":smile:", "<script>alert(1)</script>", "&amp;", "%s", "{}", "{0}",
          "{text}", "{{text}}", "${HOME}"]
ODD = ["\x00", "\x07", "\x1b[31m", "\x7f", "\x9b", "\r", "\u200b", "\u200d", "\ufeff", "\u202e", "\u2066",
       "שָׁלוֹם", "مرحبا", "日本語", "Ж", "𝔘𝔫𝔦", "🙂", "e\u0301", "\ud7ff"]
WORDS = ["What", "is", "the", "meaning", "of", "life", "?"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_clean(r, what: str) -> None:
    """Exit 0, or exit 2 with one 'Error:' line on stderr; never a traceback."""
    assert r.exception is None or isinstance(r.exception, SystemExit), (what, repr(r.exception), r.output[-2000:])
    assert "Traceback" not in r.output, (what, r.output[-2000:])
    if r.exit_code != 0:
        assert r.exit_code == 2, (what, r.exit_code, r.output[-2000:])
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (what, r.stderr[-2000:])


# --------------------------------------------------------------------------- prompts

piece = st.one_of(st.sampled_from(WORDS), st.sampled_from(MARKUP), st.sampled_from(ODD),
                  st.text(alphabet=string.ascii_letters, min_size=200, max_size=300),  # a very long word
                  st.text(min_size=1, max_size=12))
prompts = st.lists(piece, min_size=0, max_size=10).map(" ".join)


@FUZZ
@given(prompt=prompts)
def test_fuzzed_prompts_explain_cleanly(prompt):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        r = invoke("explain", prompt, "-m", "oracle:meaning,life", "-j", "8", "--permutations", "0", "--no-cache",
                   "--out", str(out))
        assert_clean(r, repr(prompt))
        if r.exit_code != 0:
            return
        data = json.loads((out / "explanation.json").read_text(encoding="utf-8"))
        assert data["tokens"] and all(t in prompt for t in data["tokens"])  # words of the prompt as given
        page = (out / "heatmap.html").read_text(encoding="utf-8")
        assert not RAW_CONTROL.search(page), RAW_CONTROL.search(page)
        # terminal: short printable words of the top-token table appear literally (markup not read)
        top = sorted(range(len(data["tokens"])), key=lambda i: (-data["attributions"][i], i))[:8]
        for i in top:
            word = data["tokens"][i]
            if len(word) <= 12 and all(c in string.printable and c not in "\t\n\r\x0b\x0c" for c in word):
                assert word in r.stdout, (word, r.stdout[-3000:])


def test_markup_words_print_literally():
    """The bullet that started it: '[/bold]' and a hidden '[link=...]' in the top-token table."""
    with tempfile.TemporaryDirectory() as tmp:
        r = invoke("explain", "What [/bold] is [link=http://x]life[/link] ?", "-m", "oracle:life", "-j", "8",
                   "--permutations", "0", "--no-cache", "--out", str(Path(tmp) / "o"))
    assert r.exit_code == 0, r.output
    assert "[/bold]" in r.stdout and "[link=http://x]life[/link]" in r.stdout


# --------------------------------------------------------------------------- configurations

_EXPLAIN_KEYS = [f.name for f in dataclasses.fields(ExplainConfig) if f.name != "call_log"]  # call_log writes a file
_BENCH_KEYS = ["name", "models", "optional_models", "datasets", "methods", "variants", "explain", "sweep", "seed",
               "metrics", "random_baseline", "model_accuracy", "cache", "shard_size", "heatmap_pngs"]
_METRIC_KEYS = ["stability", "stability_changes", "stability_k", "consistency_runs", "erasure", "fidelity_heldout",
                "bootstrap", "confidence"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 12), st.sampled_from([-1.5, 0.0, 0.5, 1e308]),
                    st.sampled_from([float("nan"), float("inf")]), st.text(max_size=8),
                    st.sampled_from(["auto", "gsmile", "wmd", "text", "samples", "logprobs", "lime", "off", "run"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
TAGS = ["!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system", "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=", "!custom x", "&a [*a]", "*undefined", "{unclosed", "- [", "\t: tab"]


def _tagged(text: str, tag: str) -> str:
    return text + f"\nextra_tagged: {tag}\n"


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(_EXPLAIN_KEYS + ["unknown_key", "explain"]), values, max_size=4),
       tag=st.one_of(st.none(), st.sampled_from(TAGS)))
def test_fuzzed_explain_configurations(changes, tag):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "cfg.yaml"
        text = yaml.safe_dump({"explain": changes} if "explain" not in changes else changes, allow_unicode=True)
        cfg.write_text(_tagged(text, tag) if tag else text, encoding="utf-8")
        r = invoke("explain", "What is the meaning of life ?", "-m", "oracle:meaning,life", "-j", "8",
                   "--permutations", "0", "--no-cache", "-q", "--config", str(cfg), "--out", str(Path(tmp) / "o"))
        assert_clean(r, cfg.read_text(encoding="utf-8"))
        if r.exit_code == 0:
            assert (Path(tmp) / "o" / "explanation.json").is_file()


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(_BENCH_KEYS + ["unknown_key"]), values, max_size=3),
       metrics=st.dictionaries(st.sampled_from(_METRIC_KEYS), values, max_size=2),
       tag=st.one_of(st.none(), st.sampled_from(TAGS)))
def test_fuzzed_benchmark_configurations(changes, metrics, tag):
    base = {"name": "fuzz", "models": ["oracle:@rationale"], "methods": ["gsmile"],
            "datasets": [{"name": "paper", "path": "data/prepared/paper.jsonl", "limit": 2}],
            "metrics": metrics, **changes}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        text = yaml.safe_dump(base, allow_unicode=True)
        cfg.write_text(_tagged(text, tag) if tag else text, encoding="utf-8")
        r = invoke("stage", "prepare", "--config", str(cfg), "--run-dir", str(Path(tmp) / "run"))
        assert_clean(r, cfg.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- data set rows

def _valid_row(i: int) -> dict:
    return {"id": f"r{i}", "dataset": "fuzz", "task": "generation", "template": "{text}",
            "words": ["What", "is", "life", "?"], "rationale": [0, 0, 1, 0], "label": None, "label_set": None,
            "provenance": {"source": "test", "licence": "CC0-1.0", "ref": str(i)}}


row_values = st.one_of(values, st.lists(st.sampled_from(["a", "", " ", "b c", "\x00", "{text}", "日本"]), max_size=4),
                       st.lists(st.integers(-1, 2), max_size=5))


@st.composite
def rows_file(draw) -> bytes:
    lines = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["valid", "mutated", "mutated", "raw"]))
        if kind == "raw":
            lines.append(draw(st.sampled_from([b"", b"   ", b"not json", b"[1, 2]", b"42", b"\xff\xfe bad utf-8",
                                               b'{"id": "x"', b"null", b'{"id": 1e400}'])))
            continue
        row = _valid_row(i)
        if kind == "mutated":
            for key, value in draw(st.dictionaries(st.sampled_from([*row, "unknown"]), row_values, min_size=1,
                                                   max_size=3)).items():
                row[key] = value
            for key in draw(st.lists(st.sampled_from(list(row)), max_size=1)):
                row.pop(key, None)
        lines.append(json.dumps(row, ensure_ascii=False).encode("utf-8"))
    return b"\n".join(lines) + b"\n"


@FUZZ
@given(data=rows_file())
def test_fuzzed_dataset_rows(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.jsonl"
        path.write_bytes(data)
        try:
            ds = load_dataset(path)
        except DataValidationError as e:
            text = str(e)
            assert text.startswith("Data set 'fuzz'") and "line " in text, text
            assert e.report is not None and not e.report.success
        else:
            assert len(ds) >= 1 and all(ex.words for ex in ds.examples)
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text(yaml.safe_dump({"name": "fuzz", "models": ["oracle:@rationale"], "methods": ["gsmile"],
                                       "datasets": [{"name": "fuzz", "path": str(path)}]}), encoding="utf-8")
        r = invoke("stage", "prepare", "--config", str(cfg), "--run-dir", str(Path(tmp) / "run"))
        assert r.exception is None or isinstance(r.exception, SystemExit), (data, repr(r.exception), r.output)
        assert "Traceback" not in r.output and r.exit_code in (0, 2), (data, r.output)
        if r.exit_code == 2:
            assert r.stderr.startswith("Error: "), r.stderr

