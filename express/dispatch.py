"""Tasks that must run only if the transaction that asked for them commits.

A service function calls :func:`after_commit` inside its ``transaction()`` block (booking a waybill for
the parcel it just created, refunding the fee it just decided to refund); the task is published once
the session commits, and forgotten if it rolls back. If the broker is down at that moment the work is
not lost: the rows say what is still to do (a parcel in ``created``, a payment in ``refund_requested``)
and the ``express.sweep`` beat job publishes it again. Tasks are published by name (no import of
``express.tasks`` here), routed to the ``express`` queue by ``init_app``.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from mobile_api.celery_app import celery
from mobile_api.extensions import db

log = logging.getLogger(__name__)

_PENDING = "express_tasks_after_commit"


def after_commit(task_name: str, *args: object, countdown: float | None = None) -> None:
    """Publish ``task_name(*args)`` when the current transaction commits (once per distinct call)."""
    pending = db.session.info.setdefault(_PENDING, [])
    call = (task_name, args, countdown)
    if call not in pending:
        pending.append(call)


def publish(task_name: str, *args: object, countdown: float | None = None) -> bool:
    """Publish now (outside any transaction): the sweep and retries use this. False when the broker is down."""
    try:
        celery.signature(task_name, args=args).apply_async(countdown=countdown, retry=False)
    except Exception as exc:  # broker unreachable: the sweep publishes it again later
        log.warning("could not publish %s%r: %s", task_name, args, type(exc).__name__)
        return False
    return True


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    for task_name, args, countdown in session.info.pop(_PENDING, None) or ():
        publish(task_name, *args, countdown=countdown)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
