"""Celery tasks for notifications: thin, idempotent, named so the names survive refactors."""

from __future__ import annotations

import random

from mobile_api.celery_app import celery
from notifications import service


def _backoff(attempts: int) -> float:
    """Exponential backoff with full jitter: 1 s, 2 s, 4 s … capped at 5 min."""
    return random.uniform(0, min(300, 2 ** attempts))


def _send(task, notification_id: str) -> str:
    try:
        return service.send(notification_id)
    except service.RetryLater as exc:
        raise task.retry(countdown=_backoff(exc.attempts), max_retries=service.MAX_ATTEMPTS) from exc


@celery.task(name="notifications.send", bind=True)
def send_notification(self, notification_id: str) -> str:
    return _send(self, notification_id)


@celery.task(name="notifications.send_urgent", bind=True)
def send_urgent_notification(self, notification_id: str) -> str:
    return _send(self, notification_id)


@celery.task(name="notifications.sweep_stuck")
def sweep_stuck_notifications() -> int:
    return service.sweep_stuck()
