#!/usr/bin/env bash
# Redis server: the Celery broker and result backend for the distributed-executor test and
# bench (bench/celery_backfill.py).
#
#   bash scripts/redis.sh start   install Debian's redis-server if missing, start it on loopback
#   bash scripts/redis.sh env     print SALESML_TEST_REDIS_URL=... when it is up
#   bash scripts/redis.sh stop    stop it
#
# The server listens on 127.0.0.1:$SALESML_REDIS_PORT (default 63790), keeps nothing on disk
# and lives in $SALESML_REDIS_DIR (default /tmp/salesml-redis). If it cannot be installed or
# started, `start` says why and exits 0 without a URL: the Celery test then skips locally and
# fails under CI=true (tests/conftest.py), so a missing server is never silent in CI.
set -uo pipefail
# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

DIR="${SALESML_REDIS_DIR:-/tmp/salesml-redis}"
PORT="${SALESML_REDIS_PORT:-63790}"

install_server() {
  if command -v redis-server >/dev/null; then return 0; fi
  apt_install redis.sh redis-server && command -v redis-server >/dev/null
}

is_up() {
  command -v redis-cli >/dev/null && [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == "PONG" ]]
}

start() {
  if is_up; then echo "redis.sh: already running on port $PORT" >&2; return 0; fi
  install_server || { echo "redis.sh: no Redis server; the Celery test will not run" >&2; return 0; }
  mkdir -p "$DIR"
  redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save "" --appendonly no \
    --daemonize yes --logfile "$DIR/redis.log" --pidfile "$DIR/redis.pid" >&2 || {
    echo "redis.sh: server did not start; see $DIR/redis.log" >&2; return 0; }
  for _ in $(seq 50); do is_up && break; sleep 0.1; done
  is_up && echo "redis.sh: Redis up at 127.0.0.1:$PORT" >&2 || echo "redis.sh: Redis did not answer" >&2
}

stop() {
  is_up && redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) if is_up; then echo "SALESML_TEST_REDIS_URL=redis://127.0.0.1:$PORT"; fi ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
