"""Writing to the outbox: ``notify()`` adds a row in the caller's transaction; it is published after commit.

The citizen's inbox copy is written in the same transaction, first: it is there the moment the caller
commits, whatever happens to WeChat or SMS later, and nothing ever holds it back (quiet hours and the
SMS cap hold only reminders and notices, ``MessageKind``).

After the caller commits, the new rows are published to Celery (and marked ``queued``). If the broker
is down the rows stay ``created`` and the sweep job publishes them later; if the caller rolls back,
there is no row and nothing is sent. ``dedupe_key`` is unique: the same key twice sends once.

Rows are published by task *name* (``notifications/tasks.py`` registers the tasks), so this module
does not import the tasks module, which imports the service.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time, timedelta
from time import sleep
from typing import Any

from flask import g, has_request_context
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from mobile_api.celery_app import celery
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, utcnow
from notifications.inbox import get_preferences
from notifications.models import InboxMessage, Notification, NotificationEvent, NotificationStatus, new_notification_id
from notifications.templates import Template, get_template

log = logging.getLogger(__name__)

PENDING_KEY = "notifications_to_publish"
SEND_TASK = "notifications.send"  # one message: retries, resends
SEND_BATCH_TASK = "notifications.send_batch"  # what a commit or a sweep published, NOTIFY_BATCH_SIZE at most
SEND_URGENT_TASK = "notifications.send_urgent"  # its own queue, so a sign-in code never waits behind reminders
SWEEP_URGENT_TASK = "notifications.sweep_urgent"
URGENT_PUBLISH_BACKOFF = (0.05, 0.2, 0.5)  # seconds between the tries of one urgent publish


def notify(
    account_or_phone: Any,
    template_code: str,
    params: dict,
    *,
    dedupe_key: str,
    urgent: bool = False,
) -> str | None:
    """Queue a message, in the current transaction, to an account (anything with ``id`` and
    ``phone``; ``wechat_openid`` is used when present) or to a bare phone number (before an account
    exists, e.g. sign-in codes).

    Returns the new notification's id, or None when ``dedupe_key`` was already used.
    Raises ``TemplateError`` (a programming error) for an unknown template or wrong parameters.
    """
    if isinstance(account_or_phone, str):
        account_id, recipient, openid = None, account_or_phone, None
    else:
        account_id, recipient = account_or_phone.id, account_or_phone.phone
        openid = getattr(account_or_phone, "wechat_openid", None)
    template = get_template(template_code)
    template.validate(params)
    held = template.held and not urgent
    urgent = urgent or template.urgent
    deliver_after = _quiet_hours_deferral(account_id, utcnow()) if held else None
    return write_outbox(
        dedupe_key=dedupe_key,
        account_id=account_id,
        phone=recipient,
        wechat_openid=openid,
        template=template,
        params=json.dumps(params, ensure_ascii=False),
        urgent=urgent,
        deliver_after=deliver_after,
    )


def write_outbox(*, template: Template, urgent: bool, deliver_after: datetime | None, inbox: bool = True, **values: Any) -> str | None:
    """Insert one outbox row (ignored when its ``dedupe_key`` exists) and, for an account holder, the
    inbox copy, in the caller's transaction."""
    notification_id, now = new_notification_id(), utcnow()
    # No autoflush: the history rows added below stay pending and reach the database together, with the
    # caller's next flush or commit (one INSERT for a bulk notice's rows instead of one per message).
    with db.session.no_autoflush:
        return _write_outbox_rows(notification_id, now, template, urgent, deliver_after, inbox, values)


def _write_outbox_rows(
    notification_id: str, now: datetime, template: Template, urgent: bool, deliver_after: datetime | None, inbox: bool, values: dict
) -> str | None:
    inserted = insert_ignoring_conflict(
        Notification,
        id=notification_id,
        template_code=template.code,
        template_version=template.version,
        urgent=urgent,
        essential=not template.optional,
        status=NotificationStatus.CREATED,
        deliver_after=deliver_after,
        request_id=getattr(g, "request_id", None) if has_request_context() else None,
        created_at=now,
        updated_at=now,
        **values,
    )
    if not inserted:
        return None
    if inbox and template.has_inbox_copy and values.get("account_id"):
        insert_ignoring_conflict(
            InboxMessage,
            account_id=values["account_id"],
            notification_id=notification_id,
            title=template.title or "消息通知",
            body=template.render(json.loads(values["params"])),
            created_at=now,
        )
    db.session.add(
        NotificationEvent(notification_id=notification_id, status=NotificationStatus.CREATED, detail=_deferral_detail(deliver_after))
    )
    if deliver_after is None:  # deferred rows are published by the sweep when they are due
        db.session.info.setdefault(PENDING_KEY, []).append((notification_id, urgent))
    return notification_id


def _deferral_detail(deliver_after: datetime | None) -> str | None:
    return f"quiet hours: deferred to {deliver_after.astimezone(CITY_TZ).isoformat()}" if deliver_after else None


# --- quiet hours ----------------------------------------------------------------------------------


def quiet_hours_end(at: datetime, start: time, end: time) -> datetime | None:
    """When the quiet hours around ``at`` end (UTC), or None outside quiet hours (city time)."""
    local = at.astimezone(CITY_TZ)
    now = local.time()
    inside = (start <= now or now < end) if start > end else (start <= now < end)
    if not inside:
        return None
    end_at = datetime.combine(local.date(), end, tzinfo=CITY_TZ)
    if end_at <= local:
        end_at += timedelta(days=1)
    return end_at.astimezone(UTC)


def _quiet_hours_deferral(account_id: str | None, now: datetime) -> datetime | None:
    start_text, end_text = setting("NOTIFY_QUIET_HOURS").split("-")
    end_at = quiet_hours_end(now, time.fromisoformat(start_text), time.fromisoformat(end_text))
    if end_at is None:
        return None
    if account_id is not None and not get_preferences(account_id)["quiet_hours"]:
        return None
    return end_at


# --- publishing after commit ----------------------------------------------------------------------


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        publish(pending)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def publish(pending: list[tuple[str, bool]]) -> int:
    """Hand rows to the broker: each urgent row (a sign-in code) as a task of its own, the others in
    batches of ``NOTIFY_BATCH_SIZE`` (``notifications/batch.py``: one claim and one result write per
    batch). An urgent row that fails is tried again at once with a short backoff (a busy or restarting
    broker); on a failure that persists, or any non-urgent failure, the rest are left to the sweeps (a
    dead broker must not hold the caller's request for one connection timeout per message;
    ``sweep_urgent`` looks again within seconds). Returns the rows published."""
    urgent = [notification_id for notification_id, is_urgent in pending if is_urgent]
    others = [notification_id for notification_id, is_urgent in pending if not is_urgent]
    size = max(1, setting("NOTIFY_BATCH_SIZE"))
    tasks = [(SEND_URGENT_TASK, (notification_id,), [notification_id]) for notification_id in urgent]
    tasks += [(SEND_BATCH_TASK, (others[at : at + size],), others[at : at + size]) for at in range(0, len(others), size)]
    published: list[str] = []
    for task_name, args, ids in tasks:
        if not _publish_task(task_name, args, urgent=task_name == SEND_URGENT_TASK):
            log.warning("could not publish %d notification(s); the sweep will", len(pending) - len(published))
            break
        published += ids
    if published:
        _mark_queued(published)
    return len(published)


def _publish_task(task_name: str, args: tuple, *, urgent: bool) -> bool:
    # A signature by name: the registered task's own apply_async where the tasks are imported
    # (every app process: init_app imports them), else a plain send_task. Routed by name.
    signature = celery.signature(task_name, args=args)
    delays = URGENT_PUBLISH_BACKOFF if urgent else ()
    for attempt in range(len(delays) + 1):
        try:
            signature.apply_async(retry=False)
            return True
        except Exception as exc:  # broker down or busy: the rows stay as they are and are swept later
            log.warning("publishing %s failed (attempt %d): %s", task_name, attempt + 1, type(exc).__name__)
            if attempt < len(delays):
                sleep(delays[attempt])
    return False


def _mark_queued(published: list[str]) -> None:
    # A separate connection, not the session: this runs in the session's after_commit hook, where the
    # caller's transaction is already committed and the session cannot start another one.
    now = utcnow()
    with db.engine.begin() as connection:
        newly_queued = (
            connection.execute(
                update(Notification)
                .where(Notification.id.in_(published), Notification.status == NotificationStatus.CREATED)
                .values(status=NotificationStatus.QUEUED, updated_at=now)
                .returning(Notification.id)
            )
            .scalars()
            .all()
        )
        connection.execute(
            update(Notification)
            .where(Notification.id.in_(published), Notification.status == NotificationStatus.QUEUED, Notification.id.not_in(newly_queued))
            .values(updated_at=now)
        )
        if newly_queued:
            connection.execute(
                NotificationEvent.__table__.insert(),
                [{"notification_id": nid, "status": NotificationStatus.QUEUED, "detail": None, "at": now} for nid in newly_queued],
            )
