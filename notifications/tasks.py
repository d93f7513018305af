"""Celery tasks for notifications: thin, idempotent, named so the names survive refactors.

``send`` is safe to run twice for one id (the claim is a conditional UPDATE), so the tasks run with
``acks_late`` + ``reject_on_worker_lost`` (mobile_api/celery_app.py): a worker killed mid-task leaves
the message to be redelivered, and the sweep settles anything a dead worker left half-done.
"""

from __future__ import annotations

import random
from collections import Counter

from mobile_api.celery_app import celery
from mobile_api.settings import setting
from notifications import service
from notifications.outbox import SEND_BATCH_TASK, SEND_TASK, SEND_URGENT_TASK, SWEEP_URGENT_TASK


def backoff_seconds(attempts: int, base: float) -> float:
    """Exponential backoff with full jitter: up to base·2, base·4, base·8 … capped at 5 min."""
    return random.uniform(base / 2, min(300.0, base * 2**attempts))


def _send(task, notification_id: str) -> str:
    try:
        return str(service.send(notification_id))  # the status's plain value, for the worker's log
    except service.RetryLater as exc:
        countdown = backoff_seconds(exc.attempts, setting("NOTIFY_RETRY_BASE_SECONDS"))
        raise task.retry(countdown=countdown) from exc


# Published by name from notifications/outbox.py (which must not import this module).
# max_retries=None: the service decides when to give up (NOTIFY_MAX_ATTEMPTS), not Celery's default of 3.
@celery.task(name=SEND_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_notification(self, notification_id: str) -> str:
    return _send(self, notification_id)


@celery.task(name=SEND_BATCH_TASK, acks_late=True, reject_on_worker_lost=True)
def send_notification_batch(notification_ids: list[str]) -> dict[str, int]:
    outcome = service.send_batch(notification_ids, top_up=setting("NOTIFY_BATCH_SIZE") - len(notification_ids))
    for notification_id, attempts in outcome.retry.items():  # a temporary failure: that message alone, later
        countdown = backoff_seconds(attempts, setting("NOTIFY_RETRY_BASE_SECONDS"))
        send_notification.apply_async((notification_id,), countdown=countdown)
    counts = Counter(str(status) for status in outcome.statuses.values())  # the plain values, for the worker's log
    return {**counts, "retry": len(outcome.retry)}


@celery.task(name=SEND_URGENT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_urgent_notification(self, notification_id: str) -> str:
    return _send(self, notification_id)


@celery.task(name="notifications.sweep_stuck")
def sweep_stuck_notifications() -> int:
    return service.sweep_stuck()


@celery.task(name=SWEEP_URGENT_TASK)
def sweep_urgent_notifications() -> int:
    return service.sweep_urgent()


@celery.task(name="notifications.noop")
def noop(_marker: int = 0) -> None:
    """Does nothing: the baseline the notifications benchmark measures the broker with."""
