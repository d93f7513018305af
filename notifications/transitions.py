"""The status machine: which status may follow which, and the one way a notification's status changes.

created → queued → sending → sent → delivered | temporary_failure | permanent_failure | cancelled.
Every change is one conditional UPDATE (``WHERE status IN (allowed sources)``) plus a history row, so
concurrent workers, the sweep and late receipts can never move a final status back.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, insert, update

from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from notifications.models import FINAL_STATUSES, Notification, NotificationEvent, NotificationStatus

# Which statuses a status may be reached from. Final statuses are sources of nothing.
SOURCES: dict[NotificationStatus, tuple[NotificationStatus, ...]] = {
    # created again: deferred back to the outbox (per-recipient rate limit)
    NotificationStatus.CREATED: (NotificationStatus.QUEUED, NotificationStatus.SENDING),
    NotificationStatus.QUEUED: (NotificationStatus.CREATED, NotificationStatus.QUEUED, NotificationStatus.SENDING),
    NotificationStatus.SENDING: (NotificationStatus.CREATED, NotificationStatus.QUEUED),
    NotificationStatus.SENT: (NotificationStatus.SENDING,),
    NotificationStatus.DELIVERED: (NotificationStatus.SENDING, NotificationStatus.SENT),
    NotificationStatus.TEMPORARY_FAILURE: (NotificationStatus.SENDING, NotificationStatus.SENT),
    NotificationStatus.PERMANENT_FAILURE: (
        NotificationStatus.CREATED,
        NotificationStatus.QUEUED,
        NotificationStatus.SENDING,
        NotificationStatus.SENT,
    ),
    NotificationStatus.CANCELLED: (NotificationStatus.CREATED, NotificationStatus.QUEUED, NotificationStatus.SENDING),
}


def transition(notification_id: str, status: NotificationStatus, detail: str | None = None, *, where: Any = None, **values: Any) -> bool:
    """Move to ``status`` if the current status allows it (and ``where`` holds); add a history row.

    Writes in the caller's transaction; returns whether the row moved.
    """
    now = utcnow()
    condition = and_(Notification.id == notification_id, Notification.status.in_(SOURCES[status]))
    if where is not None:
        condition = and_(condition, where)
    values.setdefault("updated_at", now)
    if status in FINAL_STATUSES:
        values.setdefault("final_at", now)
    moved = db.session.execute(
        update(Notification).where(condition).values(status=status, **values).execution_options(synchronize_session=False)
    ).rowcount
    if moved:
        db.session.add(NotificationEvent(notification_id=notification_id, status=status, detail=detail, at=now))
    return bool(moved)


def transition_many(
    notification_ids: Collection[str],
    status: NotificationStatus,
    details: dict[str, str] | str | None = None,
    *,
    where: Any = None,
    **values: Any,
) -> list[str]:
    """``transition()`` for many rows at once: one conditional UPDATE … RETURNING and one INSERT of the
    history rows of those that moved, in the caller's transaction. ``values`` may be SQL expressions
    (``case(…, value=Notification.id)`` for a value per row); ``details`` a text per id. Returns the
    ids that moved."""
    if not notification_ids:
        return []
    now = utcnow()
    condition = and_(Notification.id.in_(list(notification_ids)), Notification.status.in_(SOURCES[status]))
    if where is not None:
        condition = and_(condition, where)
    values.setdefault("updated_at", now)
    if status in FINAL_STATUSES:
        values.setdefault("final_at", now)
    moved = list(
        db.session.scalars(
            update(Notification)
            .where(condition)
            .values(status=status, **values)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
    )
    if moved:
        detail_of = details.get if isinstance(details, dict) else (lambda _id: details)
        db.session.execute(
            insert(NotificationEvent),
            [{"notification_id": nid, "status": status, "detail": detail_of(nid), "at": now} for nid in moved],
        )
    return moved


def load(notification_id: str) -> Notification | None:
    """The row as the database has it now (the conditional UPDATEs bypass the session's copy)."""
    return db.session.get(Notification, notification_id, populate_existing=True)
