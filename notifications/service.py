"""Notifications: ``notify()`` writes an outbox row in the caller's transaction; a task sends it.

After the caller commits, the new rows are published to Celery (and marked ``queued``). If the broker
is down the rows stay ``created`` and the sweep job publishes them later; if the caller rolls back,
there is no row and nothing is sent. ``dedupe_key`` is unique: the same key twice sends once.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from notifications.channels import ChannelError, get_sms_gateway
from notifications.models import FINAL_STATUSES, Notification, NotificationEvent, SandboxMessage, new_notification_id
from notifications.templates import get_template

log = logging.getLogger(__name__)

PENDING_KEY = "notifications_to_publish"
STUCK_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class RetryLater(Exception):
    """A temporary failure; the task should retry with backoff."""

    def __init__(self, attempts: int) -> None:
        super().__init__(attempts)
        self.attempts = attempts


def notify(
    account_or_phone: Any,
    template_code: str,
    params: dict,
    *,
    dedupe_key: str,
    urgent: bool = False,
) -> str | None:
    """Queue a message, in the current transaction, to an account (anything with ``id`` and
    ``phone``) or to a bare phone number (before an account exists, e.g. sign-in codes).

    Returns the new notification's id, or None when ``dedupe_key`` was already used.
    """
    if isinstance(account_or_phone, str):
        account_id, recipient = None, account_or_phone
    else:
        account_id, recipient = account_or_phone.id, account_or_phone.phone
    template = get_template(template_code)
    template.validate(params)
    notification_id = new_notification_id()
    inserted = insert_ignoring_conflict(
        Notification,
        id=notification_id,
        dedupe_key=dedupe_key,
        account_id=account_id,
        phone=recipient,
        template_code=template.code,
        template_version=template.version,
        params=json.dumps(params, ensure_ascii=False),
        urgent=urgent or template.urgent,
        status="created",
        request_id=getattr(g, "request_id", None) if has_request_context() else None,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    if not inserted:
        return None
    db.session.info.setdefault(PENDING_KEY, []).append((notification_id, urgent or template.urgent))
    return notification_id


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        publish(pending)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def publish(pending: list[tuple[str, bool]]) -> None:
    """Hand rows to the broker; failures are logged and left to the sweep job."""
    from notifications.tasks import send_notification, send_urgent_notification  # noqa: PLC0415

    published = []
    for notification_id, urgent in pending:
        task = send_urgent_notification if urgent else send_notification
        try:
            task.apply_async((notification_id,), retry=False)
            published.append(notification_id)
        except Exception as exc:  # broker down: the row stays "created" and is swept later
            log.warning("could not publish notification %s: %s", notification_id, type(exc).__name__)
    if published:
        # A separate connection: the caller's transaction is already committed.
        with db.engine.begin() as connection:
            connection.execute(
                update(Notification)
                .where(Notification.id.in_(published), Notification.status == "created")
                .values(status="queued", updated_at=utcnow())
            )


def send(notification_id: str) -> str:
    """Send one notification if nobody else is sending it. Returns the resulting status."""
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status.in_(("created", "queued")))
        .values(status="sending", attempts=Notification.attempts + 1, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        return "missing"
    if not claimed:
        return notification.status
    template = get_template(notification.template_code)
    text = template.render(json.loads(notification.params))
    try:
        result = get_sms_gateway().send(notification.phone, text, notification.id)
    except ChannelError as exc:
        if not exc.permanent and notification.attempts < MAX_ATTEMPTS:
            notification.status, notification.last_error = "queued", exc.reason
            db.session.add(NotificationEvent(notification_id=notification.id, status="queued", detail=f"retry: {exc.reason}"))
            db.session.commit()
            raise RetryLater(notification.attempts) from exc
        _set_status(notification, "permanent_failure" if exc.permanent else "temporary_failure", exc.reason)
        db.session.commit()
        return notification.status
    notification.provider, notification.provider_ref, notification.segments = result.provider, result.provider_ref, result.segments
    notification.channel, notification.sent_at = "sms", utcnow()
    _set_status(notification, "sent")
    db.session.commit()
    return notification.status


def _set_status(notification: Notification, status: str, detail: str | None = None) -> None:
    if notification.status in FINAL_STATUSES:
        log.info("ignored %s for notification %s already %s", status, notification.id, notification.status)
        return
    notification.status = status
    if detail:
        notification.last_error = detail
    db.session.add(NotificationEvent(notification_id=notification.id, status=status, detail=detail))


def sweep_stuck() -> int:
    """Re-publish rows left ``created``/``queued`` (broker was down, worker died)."""
    cutoff = utcnow() - STUCK_AFTER
    rows = db.session.execute(
        select(Notification.id, Notification.urgent).where(
            Notification.status.in_(("created", "queued")), Notification.updated_at < cutoff
        )
    ).all()
    db.session.commit()
    if rows:
        publish([(row.id, row.urgent) for row in rows])
    log.info("swept %d stuck notifications", len(rows))
    return len(rows)


def sandbox_messages(recipient: str | None, page: int, per_page: int) -> Page:
    statement = select(SandboxMessage).order_by(SandboxMessage.id.desc())
    if recipient:
        statement = statement.where(SandboxMessage.recipient == recipient)
    return paginate(statement, page, per_page)
