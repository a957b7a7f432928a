#!/usr/bin/env bash
# The main job: the xai_benchmark Airflow DAG, run for real on embedded defaults
# (SQLite-backed Airflow under ./airflow_home, MLflow on ./mlflow/mlflow.db, the embedded
# llama.cpp model, local embeddings). Extra arguments go to `airflow dags test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="$ROOT/.venv/bin"
export PATH="$BIN:$PATH"
export XAI_BENCH_HOME="$ROOT"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-WARNING}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$ROOT/mlflow/mlflow.db}"
export DVC_NO_ANALYTICS=1 LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$AIRFLOW_HOME" "$ROOT/mlflow" "$ROOT/runs"

bash scripts/prepare_data.sh
echo "==> airflow db migrate ($AIRFLOW_HOME)" >&2
airflow db migrate >/dev/null
echo "==> airflow dags test xai_benchmark" >&2
marker="$(mktemp)"
airflow dags test xai_benchmark "$@"
# the run folder this DAG run wrote (under ./runs unless the conf named another out_root)
run_json="$(find "$ROOT/runs" ${XAI_BENCH_OUT_ROOT:+"$XAI_BENCH_OUT_ROOT"} -name run.json -newer "$marker" 2>/dev/null | head -n 1 || true)"
rm -f "$marker"
run_dir="${run_json:+$(dirname "$run_json")/}"
verdict="$( [ -n "$run_dir" ] && [ -f "${run_dir}gate.json" ] && python -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "${run_dir}gate.json" || echo "not run")"
cat <<MSG

==> done
results:     ${run_dir:-see out_root}  (metrics.json, report.md, heatmaps/)
report:      ${run_dir}report.md  (and report.html; trend/: the gated metrics over the last runs)
gate:        $verdict  (gate.json beside the results)
MLflow:      $MLFLOW_TRACKING_URI
             open the UI with: $BIN/xai-bench ui   (offline-safe; prints the runs view's address)
audit log:   ${XAI_BENCH_AUDIT_LOG:-$ROOT/audit/audit.jsonl}  (check it: $BIN/xai-bench audit verify ${XAI_BENCH_AUDIT_LOG:-audit/audit.jsonl})
MSG
