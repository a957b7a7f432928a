#!/usr/bin/env bash
# Build data/prepared (a DVC output) from data/source and data/raw (both in git) when missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" DVC_NO_ANALYTICS=1
if ! dvc status prepare_data 2>/dev/null | grep -q "up to date" || [ ! -d data/prepared ]; then
  echo "==> dvc repro prepare_data" >&2
  dvc repro -q prepare_data >&2 || python -m xai_bench.datasets prepare >&2
fi
