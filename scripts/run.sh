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

# Prometheus multiprocess mode: web and worker processes of this host write their metrics here and any
# web process's /metrics adds them up (mobile_api/metrics.py). Emptied at every start: counters restart
# from zero, which Prometheus' rate() handles as a restart.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${INSTANCE_PATH:-instance}/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
# Without Redis, rate-limit counters live in process memory: one web process (with threads).
WEB_WORKERS="${WEB_WORKERS:-$([ -n "${REDIS_URL:-}" ] && echo 4 || echo 1)}"
INSTANCE="$(cd "${INSTANCE_PATH:-instance}" && pwd)"
CONF="$INSTANCE/supervisord.conf"
# Every process is supervised (supervisor, pinned in requirements.txt): one that dies — kill -9, a crash,
# an out-of-memory kill — is started again while the others keep running. Ctrl-C stops everything, at
# once: workers get a cold shutdown (SIGQUIT; with late acks what they held goes back to the broker, and
# the sweep settles the rest), gunicorn a quick one (SIGINT).
program() {  # name, command, stop signal
  cat <<INI

[program:$1]
command=$2
directory=$ROOT
autostart=true
autorestart=true
startsecs=3
startretries=1000
stopsignal=${3:-TERM}
stopasgroup=true
killasgroup=true
stopwaitsecs=10
redirect_stderr=true
stdout_logfile=/dev/fd/1
stdout_logfile_maxbytes=0
INI
}
{
  cat <<INI
[supervisord]
nodaemon=true
logfile=$INSTANCE/supervisord.log
pidfile=$INSTANCE/supervisord.pid
childlogdir=$INSTANCE

[unix_http_server]
file=$INSTANCE/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$INSTANCE/supervisor.sock
INI
  # Sign-in codes get their own worker so a backlog of reminders never delays a sign-in.
  program worker-urgent "celery -A mobile_api.worker worker -Q urgent -n urgent@%%h -c 2 --loglevel=INFO" QUIT
  # Notifications: many short tasks; prefetching 8 per process keeps the pool busy (the SQL broker polls).
  # Safe with late acks: what a killed worker had reserved is redelivered or swept (notifications.sweep_stuck).
  program worker-notify "celery -A mobile_api.worker worker -Q notify -n notify@%%h -c 2 --prefetch-multiplier=8 --loglevel=INFO" QUIT
  program worker-main "celery -A mobile_api.worker worker -Q face,express,default -n main@%%h -c 2 --loglevel=INFO" QUIT
  program beat "celery -A mobile_api.worker beat --schedule $INSTANCE/celerybeat-schedule --loglevel=INFO"
  # --keep-alive 0: every answer says Connection: close and means it. gunicorn drains at most 64 KB of a
  # body the app did not read (a 413) and would otherwise close a connection it had announced keep-alive.
  # Behind the reverse proxy that terminates HTTPS, upstream connections are short anyway.
  program web "gunicorn -c scripts/gunicorn.conf.py -w $WEB_WORKERS --threads 8 --keep-alive 0 -b $HOST:$PORT --access-logfile - wsgi:app" INT
} > "$CONF"

cat <<TXT

  掌上市民之家 API is starting on http://$HOST:$PORT
  API docs:   http://$HOST:$PORT/api/v1/docs     OpenAPI: http://$HOST:$PORT/api/v1/openapi.json
  Metrics:    http://$HOST:$PORT/metrics (loopback, or Bearer \$METRICS_TOKEN)
  Workers:    celery -A mobile_api.worker flower --port=5555   (pip install -r requirements-dev.txt)
  Sign in as a citizen:
    curl -X POST http://$HOST:$PORT/api/v1/auth/sms-codes -H 'Content-Type: application/json' -d '{"phone":"13800138000"}'
    curl 'http://$HOST:$PORT/api/v1/sandbox/messages?phone=13800138000'      # read the code
    curl -X POST http://$HOST:$PORT/api/v1/auth/tokens -H 'Content-Type: application/json' -d '{"phone":"13800138000","code":"<code>"}'
  Real name (level 2) with a demo resident: {"name":"张伟","id_number":"330203198503120016"} to POST /api/v1/me/identity
  Staff: POST /api/v1/staff/auth/tokens {"username":"admin|prereviewer|clerk|officer|head|hallmanager|operator|supervisor","password":"\$DEMO_PASSWORD"}
         DEMO_PASSWORD defaults to Demo-2026! in the embedded default. Department head (12345 escalations): head
  Open311 GeoReport v2: http://$HOST:$PORT/open311/v2/discovery.json   demo api_key: $(cat "${INSTANCE_PATH:-instance}/open311-demo-api-key" 2>/dev/null || echo "(in the seed-demo output)")
  Ctrl-C stops everything. A process that dies is restarted (supervisorctl -c $CONF status).
TXT
exec supervisord -c "$CONF"
