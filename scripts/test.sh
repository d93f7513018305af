#!/usr/bin/env bash
# Set everything up and run the whole test suite. With no environment it runs on the embedded
# default (SQLite + SQL broker); with DATABASE_URL / REDIS_URL / CELERY_BROKER_URL on those.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec python -m pytest "$@"
