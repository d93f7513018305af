"""``/healthz``: the process answers. ``/readyz``: the database and the broker (and Redis) answer."""

from __future__ import annotations

import logging

from flask import current_app, jsonify
from kombu import Connection
from sqlalchemy import text

from mobile_api.errors import Problem, problem_response
from mobile_api.extensions import db
from mobile_api.openapi import Blueprint
from mobile_api.redis_client import get_redis

log = logging.getLogger(__name__)
health_bp = Blueprint("health", __name__, description="存活与就绪检查")


@health_bp.route("/healthz")
@health_bp.doc(responses={200: {"description": "The process is up"}})
def healthz():
    """Liveness: the process answers."""
    return jsonify(status="ok")


def _check_database() -> None:
    db.session.execute(text("SELECT 1"))
    # A probe, not a unit of work: end the read-only transaction it opened (nothing to commit) so the
    # connection goes back to the pool clean.
    db.session.rollback()


def _check_broker() -> None:
    with Connection(current_app.config["CELERY_BROKER_URL"], connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


def _check_redis() -> str:
    client = get_redis()
    if client is None:
        return "not_configured"
    client.ping()
    return "ok"


@health_bp.route("/readyz")
@health_bp.doc(responses={200: {"description": "Ready"}, 503: {"description": "A dependency is down (named in `down`)"}})
def readyz():
    """Readiness: database, Celery broker and (when configured) Redis reachable."""
    checks = {"database": _check_database, "broker": _check_broker, "redis": _check_redis}
    results, down = {}, []
    for name, check in checks.items():
        try:
            results[name] = check() or "ok"
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "down"
            down.append(name)
    if down:
        return problem_response(Problem(503, "not_ready", "服务暂时不可用，请稍后再试", down=down, checks=results))
    return jsonify(status="ok", checks=results)
