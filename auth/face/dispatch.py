"""How the web side and the face worker reach each other: queueing a verification, and "it's decided".

Tasks are sent by name (``celery.send_task``), so the modules that queue work never import the task
module (which imports them): no cycle, and the route ``face.*`` → ``face`` queue still applies.
With Redis, the worker also pushes to a short-lived list the web side can block on while a citizen
waits for the answer inline (``?wait=``); without Redis the web side polls the database.
"""

from __future__ import annotations

import logging

from mobile_api.celery_app import celery
from mobile_api.redis_client import get_redis

log = logging.getLogger(__name__)

VERIFY_TASK = "face.verify"
PURGE_TASK = "face.purge_stale"
_DECIDED_KEY = "face:done:{}"
_DECIDED_KEY_SECONDS = 30


def queue_verification(verification_id: str) -> None:
    """Queue the decision. If the broker is down the row stays pending and the purge job re-queues it."""
    try:
        celery.send_task(VERIFY_TASK, args=[verification_id])
    except Exception:
        log.exception("could not queue face verification %s", verification_id)


def signal_decided(verification_id: str) -> None:
    """Worker side: wake a web process waiting for this verification (Redis only)."""
    redis = get_redis()
    if redis is not None:
        key = _DECIDED_KEY.format(verification_id)
        redis.rpush(key, "1")
        redis.expire(key, _DECIDED_KEY_SECONDS)


def wait_for_decided_signal(verification_id: str, seconds: float) -> bool:
    """Web side: block up to ``seconds`` for :func:`signal_decided`. False when there is no Redis to wait on."""
    redis = get_redis()
    if redis is None:
        return False
    redis.blpop([_DECIDED_KEY.format(verification_id)], timeout=seconds)
    return True
