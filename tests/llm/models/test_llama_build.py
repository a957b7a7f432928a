"""The compiled llama.cpp: portable (no AMX/AVX-512 code), recorded, part of the cache key,
and able to decode a prompt of several hundred tokens on this CPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from xai_bench.llm.cache import ResponseCache, request_key
from xai_bench.llm.models.llama_build import backend_info, check, cpu_description, local_backend_key, long_prompt, scan_library
from xai_bench.llm.models.local import resolve_local_model, weights_sha256
from xai_bench.llm.query import QuerySettings, query_model

_SIMD_C = r"""
#include <immintrin.h>
void add512(float *a, const float *b) { _mm512_storeu_ps(a, _mm512_add_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b))); }
void tiles(const void *cfg, const void *src) { _tile_loadconfig(cfg); _tile_loadd(0, src, 64); _tile_release(); }
void add256(float *a, const float *b) { _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b))); }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to compile the scanner's positive control")
def test_scanner_finds_amx_and_avx512_code_and_none_in_avx2_code(tmp_path: Path):
    src = tmp_path / "simd.c"
    src.write_text(_SIMD_C)
    wide = tmp_path / "wide.o"
    subprocess.run(["gcc", "-O2", "-c", "-mavx512f", "-mamx-tile", str(src), "-o", str(wide)], check=True)
    counts = scan_library(wide)
    assert counts["amx"] >= 2 and counts["avx512"] >= 1, counts
    narrow_src = tmp_path / "narrow.c"
    narrow_src.write_text("#include <immintrin.h>\n" + _SIMD_C.strip().splitlines()[-1] + "\n")
    narrow = tmp_path / "narrow.o"
    subprocess.run(["gcc", "-O2", "-c", "-mavx2", str(narrow_src), "-o", str(narrow)], check=True)
    assert scan_library(narrow) == {"amx": 0, "avx512": 0}


def test_installed_build_is_the_portable_baseline_and_runs_a_long_prompt():
    """What scripts/bootstrap.sh checks before it declares the environment ready."""
    report = check(n_words=400)
    assert report["libraries"], "no llama.cpp library was scanned"
    assert all(c == {"amx": 0, "avx512": 0} for c in report["libraries"].values()), report["libraries"]
    info = report["backend"]["system_info"]
    assert "AVX2 = 1" in info and "AVX512 = 1" not in info and "AMX" not in info, info
    assert report["long_prompt"]["prompt_tokens"] >= 300
    assert report["long_prompt"]["completion_tokens"] > 0


def test_long_prompt_through_litellm_on_the_embedded_model(tmp_path: Path):
    """Several hundred tokens through local/smollm2-135m by the benchmark's own call path:
    the prompt size at which an AMX build died with SIGILL on another machine."""
    prompt = long_prompt(400)
    settings = QuerySettings(model="local/smollm2-135m", max_tokens=16)
    cache = ResponseCache(tmp_path / "c.sqlite")
    result = query_model([prompt], settings, cache=cache, progress=False)
    reply = result.replies[0]
    assert reply.error is None and reply.text and reply.text.strip()
    assert reply.prompt_tokens >= 300, reply.prompt_tokens


def test_backend_enters_the_cache_key_of_local_models_only():
    local = QuerySettings(model="local/smollm2-135m").request("hello")
    expected = (f"llama.cpp:{backend_info().build_id}/"
                f"weights:{weights_sha256(resolve_local_model('smollm2-135m'))[:16]}")
    assert local["backend"] == expected == local_backend_key("smollm2-135m")
    other = dict(local, backend="llama.cpp:0000000000000000/" + expected.split("/", 1)[1])
    assert request_key(other) != request_key(local)  # another build never reads this build's answers
    assert "backend" not in QuerySettings(model="oracle:life").request("hello")


def test_backend_info_is_stable_and_cpu_is_described():
    a, b = backend_info(), backend_info()
    assert a.build_id == b.build_id and len(a.build_id) == 16
    cpu = cpu_description()
    assert cpu["logical_cores"] >= 1 and cpu["model"]
