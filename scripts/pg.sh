#!/usr/bin/env bash
# PostgreSQL server for the SQL persistence tests (leadconv lead_scores, read-only extract).
#
#   bash scripts/pg.sh start   install Debian's postgresql if missing, start a throwaway cluster
#   bash scripts/pg.sh env     print SALESML_TEST_PG_URL=... for `export $(bash scripts/pg.sh env)`
#   bash scripts/pg.sh stop    stop the cluster
#
# The cluster lives in $SALESML_PG_DIR (default /tmp/salesml-pg), listens on 127.0.0.1:$SALESML_PG_PORT
# (default 54329) and holds the database salesml_test owned by user salesml. If the server cannot be
# installed or started, `start` says why and exits 0 without a URL: the postgres tests then skip
# locally and fail under CI=true (see tests/conftest.py), so a missing server is never silent in CI.
set -uo pipefail
# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

PGDIR="${SALESML_PG_DIR:-/tmp/salesml-pg}"
PORT="${SALESML_PG_PORT:-54329}"
DB=salesml_test
USER_NAME=salesml
PASSWORD=salesml

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  done
  return 1
}

as_pg() {
  # initdb refuses to run as root: run the server as the `postgres` system user when we are root.
  if [[ "$(id -u)" == "0" ]]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

install_server() {
  if find_bin >/dev/null; then return 0; fi
  apt_install pg.sh postgresql && find_bin >/dev/null
}

url() {
  echo "postgresql+psycopg://${USER_NAME}:${PASSWORD}@127.0.0.1:${PORT}/${DB}"
}

is_up() {
  local BIN
  BIN="$(find_bin)" || return 1
  "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q 2>/dev/null
}

start() {
  if is_up; then echo "pg.sh: already running on port $PORT" >&2; return 0; fi
  install_server || { echo "pg.sh: no PostgreSQL server; postgres tests will not run" >&2; return 0; }
  local BIN
  BIN="$(find_bin)"
  if [[ ! -f "$PGDIR/PG_VERSION" ]]; then
    rm -rf "$PGDIR" && mkdir -p "$PGDIR"
    [[ "$(id -u)" == "0" ]] && chown postgres:postgres "$PGDIR"
    as_pg "'$BIN/initdb' -D '$PGDIR' -U postgres --auth=trust -E UTF8 >/dev/null" || {
      echo "pg.sh: initdb failed" >&2; return 0; }
  fi
  as_pg "'$BIN/pg_ctl' -D '$PGDIR' -l '$PGDIR/server.log' -w -t 60 \
    -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null" || {
    echo "pg.sh: server did not start; see $PGDIR/server.log" >&2; tail -20 "$PGDIR/server.log" >&2; return 0; }
  as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -qtAc \
    \"SELECT 1 FROM pg_roles WHERE rolname='$USER_NAME'\" | grep -q 1 || \
    '$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -qc \
    \"CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD' CREATEDB\"" >/dev/null
  as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -qtAc \
    \"SELECT 1 FROM pg_database WHERE datname='$DB'\" | grep -q 1 || \
    '$BIN/createdb' -h 127.0.0.1 -p $PORT -U postgres -O $USER_NAME $DB" >/dev/null
  echo "pg.sh: PostgreSQL up at 127.0.0.1:$PORT/$DB" >&2
}

stop() {
  local BIN
  BIN="$(find_bin)" || return 0
  [[ -f "$PGDIR/PG_VERSION" ]] && as_pg "'$BIN/pg_ctl' -D '$PGDIR' -m fast stop >/dev/null" || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) if is_up; then echo "SALESML_TEST_PG_URL=$(url)"; fi ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
