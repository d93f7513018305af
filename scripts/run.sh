#!/usr/bin/env bash
# Set everything up and run the service: web (gunicorn), Celery workers and Celery beat.
# No environment needed (embedded default: SQLite + SQL broker). DATABASE_URL, REDIS_URL and
# CELERY_BROKER_URL switch to PostgreSQL and Redis.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
mkdir -p "${INSTANCE_PATH:-instance}"

flask db upgrade heads
flask calendar sync
if [ "${APP_ENV:-development}" != "production" ] && [ "${LOAD_DEMO_DATA:-1}" != "0" ]; then
  flask seed-demo
fi

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
# Without Redis, rate-limit counters live in process memory: one web process (with threads).
WEB_WORKERS="${WEB_WORKERS:-$([ -n "${REDIS_URL:-}" ] && echo 4 || echo 1)}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Sign-in codes get their own worker so a backlog of reminders never delays a sign-in.
celery -A mobile_api.worker worker -Q urgent -n "urgent@%h" -c 2 --loglevel=INFO & pids+=($!)
# Notifications: many short tasks; prefetching 8 per process keeps the pool busy (the SQL broker polls).
# Safe with late acks: what a killed worker had reserved is redelivered or swept (notifications.sweep_stuck).
celery -A mobile_api.worker worker -Q notify -n "notify@%h" -c 2 --prefetch-multiplier=8 --loglevel=INFO & pids+=($!)
celery -A mobile_api.worker worker -Q face,express,default -n "main@%h" -c 2 --loglevel=INFO & pids+=($!)
celery -A mobile_api.worker beat --schedule "${INSTANCE_PATH:-instance}/celerybeat-schedule" --loglevel=INFO & pids+=($!)
gunicorn -w "$WEB_WORKERS" --threads 8 -b "$HOST:$PORT" --access-logfile - wsgi:app & pids+=($!)

cat <<TXT

  掌上市民之家 API is starting on http://$HOST:$PORT
  API docs:   http://$HOST:$PORT/api/v1/docs     OpenAPI: http://$HOST:$PORT/api/v1/openapi.json
  Sign in as a citizen:
    curl -X POST http://$HOST:$PORT/api/v1/auth/sms-codes -H 'Content-Type: application/json' -d '{"phone":"13800138000"}'
    curl 'http://$HOST:$PORT/api/v1/sandbox/messages?phone=13800138000'      # read the code
    curl -X POST http://$HOST:$PORT/api/v1/auth/tokens -H 'Content-Type: application/json' -d '{"phone":"13800138000","code":"<code>"}'
  Real name (level 2) with a demo resident: {"name":"张伟","id_number":"330203198503120016"} to POST /api/v1/me/identity
  Staff: POST /api/v1/staff/auth/tokens {"username":"admin|prereviewer|clerk|officer|operator|supervisor","password":"\$DEMO_PASSWORD"}
         DEMO_PASSWORD defaults to Demo-2026! in the embedded default. Department head (12345 escalations): head
  Open311 GeoReport v2: http://$HOST:$PORT/open311/v2/discovery.json   demo api_key: $(cat "${INSTANCE_PATH:-instance}/open311-demo-api-key" 2>/dev/null || echo "(in the seed-demo output)")
  Ctrl-C stops everything.
TXT
wait -n "${pids[@]}"
