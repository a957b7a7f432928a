"""The llama.cpp build behind the embedded models: what it is, and whether this CPU can run it.

Outputs of a local model depend on the compiled backend (a build with other SIMD kernels can
decode a token differently), so the build is part of a run's provenance (``run.json``, the
MLflow run, the audit record) and of the response cache key of every ``local/`` call.

The project compiles llama.cpp for a fixed x86-64 baseline (AVX2, FMA, F16C, BMI2; see
``scripts/bootstrap.sh``), never for the build machine's CPU: a ``-march=native`` build picked
AMX and AVX-512 kernels that died with SIGILL on another machine. ``check()`` proves a build
before the environment is declared ready: no AMX or AVX-512 instruction in the compiled
libraries, and a prompt of several hundred tokens decoded in a child process (so an illegal
instruction is reported, not a crash of the checker).

    python -m xai_bench.llm.models.llama_build            # prints the build and runs the check
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import XaiBenchError

__all__ = ["BackendInfo", "backend_info", "cpu_description", "local_backend_key", "scan_library", "long_prompt", "check",
           "BuildCheckError"]

# Mnemonics that only exist in AMX (tile) and AVX-512 code. %zmm registers are AVX-512 only;
# %k mask registers appear only with AVX-512 (kmov*, masked ops).
_AMX = re.compile(r"\b(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|tilerelease|"
                  r"tdpbssd|tdpbsud|tdpbusd|tdpbuud|tdpbf16ps|tdpfp16ps)\b")
_AVX512 = re.compile(r"%zmm\d+|\{%k[1-7]\}|\bkmov[bwdq]\b")

_FIX = ("Rebuild the environment for the portable baseline: rm -rf .venv .cache/wheels && make setup. "
        "If the check still fails, this CPU lacks a baseline instruction set (AVX2/FMA/F16C): set "
        "XAI_BENCH_LLAMA_CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF "
        "-DGGML_BMI2=OFF' before make setup (slower, SSE/AVX only).")


class BuildCheckError(XaiBenchError, RuntimeError):
    """The compiled llama.cpp cannot be trusted on this machine; the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class BackendInfo:
    """The compiled backend: llama-cpp-python's version and llama.cpp's own system info line
    (the instruction sets compiled in, e.g. ``AVX2 = 1 | AVX512 = 0``). ``build_id`` is a
    short hash of both: equal builds, equal ids."""

    package: str
    version: str
    system_info: str
    library_dir: str
    build_id: str
    # threads of a local model when the configuration leaves local_threads at None (every core this process
    # may use); with the configuration's local_batch_size and local_threads (config.json) it says how a run's
    # local answers were decoded. Not part of build_id: threads and batching do not change the build.
    default_threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lib_dir() -> Path:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise BuildCheckError("llama-cpp-python is not installed. Run: make setup")
    return Path(list(spec.submodule_search_locations)[0]) / "lib"


@lru_cache(maxsize=1)
def backend_info() -> BackendInfo:
    """Describe the installed llama.cpp build (imports llama_cpp: about 0.2 s, once per process)."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    info = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()
    version = str(getattr(llama_cpp, "__version__", "unknown"))
    build_id = hashlib.sha256(f"llama-cpp-python {version}\n{info}".encode()).hexdigest()[:16]
    from .local import default_threads

    return BackendInfo(package="llama-cpp-python", version=version, system_info=info,
                       library_dir=str(_lib_dir()), build_id=build_id, default_threads=default_threads())


@lru_cache(maxsize=1)
def cpu_description() -> dict[str, Any]:
    """This machine's CPU: model name, logical cores and the SIMD extensions it advertises."""
    import os
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "bmi2", "sse4")))
    return {"model": model, "machine": platform.machine(), "logical_cores": os.cpu_count(), "simd": simd}


@lru_cache(maxsize=None)
def local_backend_key(name: str) -> str:
    """What a ``local/<name>`` answer depends on besides the request: the llama.cpp build and the
    weights. Part of the response cache key, so a cache filled by another build is not reused."""
    from ..families import LOCAL_PREFIX
    from .local import local_weights

    return f"llama.cpp:{backend_info().build_id}/weights:{local_weights(LOCAL_PREFIX + name)[1][:16]}"


def scan_library(path: str | Path) -> dict[str, int]:
    """Count AMX and AVX-512 instructions in a compiled library (objdump -d)."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildCheckError("objdump (binutils) is not installed, so the compiled llama.cpp libraries cannot be "
                              "scanned. Install binutils (apt-get install binutils) and run the check again.")
    proc = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(path)], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise BuildCheckError(f"objdump could not read {path}: {proc.stderr.strip()[:300]}")
    return {"amx": len(_AMX.findall(proc.stdout)), "avx512": len(_AVX512.findall(proc.stdout))}


def long_prompt(n_words: int = 400) -> str:
    """A deterministic prompt of several hundred tokens (about 1.3 tokens per word here)."""
    words = ("the committee reviewed seventeen detailed reports about river water quality, soil erosion, "
             "migratory birds and local farming methods before writing its final recommendation").split()
    body = " ".join(words[i % len(words)] for i in range(n_words))
    return f"Summarise the following notes in one sentence.\n\n{body}"


_CHILD = r"""
import json, sys, time
from llama_cpp import Llama
path, prompt = sys.argv[1], sys.stdin.read()
llm = Llama(model_path=path, n_ctx=2048, n_threads=2, verbose=False)
t0 = time.perf_counter()
out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=32)
dt = time.perf_counter() - t0
u = out["usage"]
print(json.dumps({"prompt_tokens": u["prompt_tokens"], "completion_tokens": u["completion_tokens"], "seconds": dt,
                  "text": out["choices"][0]["message"]["content"]}))
"""


def _run_long_prompt(model_path: Path, n_words: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(model_path)], input=long_prompt(n_words),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode < 0:
        import signal

        name = signal.Signals(-proc.returncode).name
        raise BuildCheckError(f"llama.cpp was killed by {name} while decoding a {n_words}-word prompt: the compiled "
                              f"library uses instructions this CPU cannot execute. {_FIX}")
    if proc.returncode != 0:
        raise BuildCheckError(f"llama.cpp failed on a {n_words}-word prompt (exit {proc.returncode}): "
                              f"{proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(model_path: str | Path | None = None, *, n_words: int = 400, scan: bool = True) -> dict[str, Any]:
    """Check the installed build on this machine; raise ``BuildCheckError`` with the fix when it fails."""
    report: dict[str, Any] = {"backend": backend_info().to_dict(), "libraries": {}}
    if scan:
        libs = {p.resolve() for p in Path(report["backend"]["library_dir"]).glob("*.so*")}  # symlinks once
        if not libs:
            raise BuildCheckError(f"No compiled llama.cpp library found in {report['backend']['library_dir']}. "
                                  "Reinstall: rm -rf .venv && make setup")
        for lib in sorted(libs):
            counts = scan_library(lib)
            report["libraries"][lib.name] = counts
            if counts["amx"] or counts["avx512"]:
                raise BuildCheckError(f"{lib} contains {counts['amx']} AMX and {counts['avx512']} AVX-512 "
                                      "instructions: it was compiled for the build machine's CPU, not for the "
                                      f"portable x86-64 baseline, and can die with SIGILL elsewhere. {_FIX}")
    if model_path is None:
        from .local import resolve_local_model

        model_path = resolve_local_model("smollm2-135m")
    out = _run_long_prompt(Path(model_path), n_words)
    if out["prompt_tokens"] < 300:
        raise BuildCheckError(f"The long-prompt check sent only {out['prompt_tokens']} tokens (expected >= 300).")
    out["prompt_tokens_per_s"] = out["prompt_tokens"] / out["seconds"] if out["seconds"] else None
    report["long_prompt"] = out
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m xai_bench.llm.models.llama_build", description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-scan", action="store_true", help="skip the objdump scan of the compiled libraries")
    ap.add_argument("--words", type=int, default=400, help="words in the long prompt (default: %(default)s)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        report = check(n_words=args.words, scan=not args.no_scan)
    except BuildCheckError as e:
        print(f"llama.cpp build check FAILED: {e}", file=sys.stderr)
        return 1
    b, lp = report["backend"], report["long_prompt"]
    print(f"llama.cpp build {b['build_id']} (llama-cpp-python {b['version']}): {b['system_info']}")
    for name, c in report["libraries"].items():
        print(f"  {name}: {c['amx']} AMX, {c['avx512']} AVX-512 instructions")
    print(f"  long prompt: {lp['prompt_tokens']} prompt + {lp['completion_tokens']} completion tokens in "
          f"{lp['seconds']:.2f} s on this CPU; check passed in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
