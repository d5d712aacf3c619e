#!/usr/bin/env bash
# `make ui`: the MLflow UI and the Dagster UI side by side, both on loopback, over the same
# SALESML_HOME as the demo. Every "mlflow_run" / "model_version" link in asset metadata
# points at the MLflow UI started here (MLflowTracker.ui_url, http://127.0.0.1:5000).
# Ctrl-C stops both.
set -euo pipefail
BIN=${BIN:-.venv/bin}
: "${SALESML_HOME:=$PWD/.salesml}" "${DAGSTER_HOME:=$SALESML_HOME/dagster}"
export SALESML_HOME DAGSTER_HOME
MLFLOW_PORT=5000  # MLflowTracker.ui_url builds its links on this port
mkdir -p "$DAGSTER_HOME" "$SALESML_HOME/mlartifacts"
if [[ -n "${DAGSTER_PG_URL:-}" ]]; then  # instance storage on PostgreSQL (scripts/dagster_postgres.yaml)
  cat scripts/dagster.yaml scripts/dagster_postgres.yaml >"$DAGSTER_HOME/dagster.yaml"
else
  cp -n scripts/dagster.yaml "$DAGSTER_HOME/dagster.yaml" 2>/dev/null || true
fi
setsid "$BIN/mlflow" ui --backend-store-uri "${SALESML_MLFLOW_URI:-sqlite:///$SALESML_HOME/mlflow.db}" \
  --host 127.0.0.1 --workers 1 --port "$MLFLOW_PORT" >"$SALESML_HOME/mlflow_ui.log" 2>&1 &
MLFLOW_PID=$!
trap 'kill -- -"$MLFLOW_PID" 2>/dev/null || true' EXIT INT TERM  # the UI and its workers
echo "MLflow UI: http://127.0.0.1:$MLFLOW_PORT (log: $SALESML_HOME/mlflow_ui.log)"
"$BIN/dagster" dev -w workspace.yaml -h 127.0.0.1 -p 3000
