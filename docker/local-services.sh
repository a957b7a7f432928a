#!/usr/bin/env bash
# The services of docker/docker-compose.yaml without containers, on this machine:
#   MLflow server        SQLite store <XAI_BENCH_HOME>/mlflow/mlflow.db, artifacts in <...>/mlflow/artifacts
#   Airflow api-server, scheduler, dag-processor, triggerer
#                        SQLite metadata database in $AIRFLOW_HOME, LocalExecutor
#                        (instead of Postgres + Redis + Celery workers)
#
# usage: docker/local-services.sh up|down|status
#
# Secrets shared by the Airflow components (JWT and API secret, Fernet key, admin password)
# are generated once into $AIRFLOW_HOME/services/secrets.env (mode 600, git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
export XAI_BENCH_HOME="${XAI_BENCH_HOME:-$ROOT}"
AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
STATE="$AIRFLOW_HOME/services"
COMPONENTS=(mlflow api-server scheduler dag-processor triggerer)

export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$STATE/simple_auth_manager_passwords.json"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=True
export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT"
export XAI_BENCH_MLFLOW_UI_URL="$MLFLOW_TRACKING_URI"
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DVC_NO_ANALYTICS=1

secrets() {
  mkdir -p "$STATE"
  if [ ! -f "$STATE/secrets.env" ]; then
    (umask 077 && "$VENV/bin/python" - > "$STATE/secrets.env" <<'PY'
import secrets
from cryptography.fernet import Fernet
print(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(32)}")
print(f"AIRFLOW__API__SECRET_KEY={secrets.token_urlsafe(32)}")
print(f"AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
print(f"AIRFLOW_ADMIN_PASSWORD={secrets.token_urlsafe(12)}")
PY
    )
  fi
  set -a; . "$STATE/secrets.env"; set +a
  (umask 077 && printf '{"admin": "%s"}' "$AIRFLOW_ADMIN_PASSWORD" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
}

command_of() {
  case "$1" in
    mlflow) echo "$VENV/bin/mlflow server --backend-store-uri sqlite:///$XAI_BENCH_HOME/mlflow/mlflow.db \
--artifacts-destination $XAI_BENCH_HOME/mlflow/artifacts --host 127.0.0.1 --port $MLFLOW_PORT --workers 1" ;;
    api-server) echo "$VENV/bin/airflow api-server --port $AIRFLOW_PORT" ;;
    *) echo "$VENV/bin/airflow $1" ;;
  esac
}

# alive while any process of the component's group is
running() { [ -f "$STATE/$1.pid" ] && kill -0 -- "-$(cat "$STATE/$1.pid")" 2>/dev/null; }

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2; i++)); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  return 1
}

up() {
  secrets
  mkdir -p "$XAI_BENCH_HOME/mlflow/artifacts"
  "$VENV/bin/airflow" db migrate >"$STATE/db-migrate.log" 2>&1
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: already running (pid $(cat "$STATE/$c.pid"))"; continue; fi
    # setsid: each component leads its own process group, so `down` stops it with its children
    setsid $(command_of "$c") >"$STATE/$c.log" 2>&1 < /dev/null &
    echo $! > "$STATE/$c.pid"
    echo "$c: started (pid $!, log $STATE/$c.log)"
  done
  wait_http "$MLFLOW_TRACKING_URI/health" 120 || { echo "mlflow did not come up; see $STATE/mlflow.log" >&2; exit 1; }
  wait_http "http://127.0.0.1:$AIRFLOW_PORT/api/v2/monitor/health" 180 \
    || { echo "api-server did not come up; see $STATE/api-server.log" >&2; exit 1; }
  echo "Airflow UI  http://127.0.0.1:$AIRFLOW_PORT  (user admin, password in $STATE/secrets.env)"
  echo "MLflow UI   $MLFLOW_TRACKING_URI"
}

down() {
  local c pgid i
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then
      pgid="$(cat "$STATE/$c.pid")"
      kill -TERM -- "-$pgid" 2>/dev/null || true
      # graceful first (the scheduler drains its executor), then the whole group
      for ((i = 0; i < ${STOP_TIMEOUT:-30}; i++)); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 1
      done
      kill -KILL -- "-$pgid" 2>/dev/null || true
      echo "$c: stopped"
    fi
    rm -f "$STATE/$c.pid"
  done
}

status() {
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then echo "$c: running (pid $(cat "$STATE/$c.pid"))"; else echo "$c: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
