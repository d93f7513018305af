"""Notifications: ``notify()`` writes an outbox row in the caller's transaction; a task sends it.

After the caller commits, the new rows are published to Celery (and marked ``queued``). If the broker
is down the rows stay ``created`` and the sweep job publishes them later; if the caller rolls back,
there is no row and nothing is sent. ``dedupe_key`` is unique: the same key twice sends once.

Statuses: created → queued → sending → sent → delivered | temporary_failure | permanent_failure |
cancelled. Every change is one conditional UPDATE (``WHERE status IN (allowed sources)``) plus a
history row, so concurrent workers, the sweep and late receipts can never move a final status back.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import and_, event, func, or_, select, text, update
from sqlalchemy.orm import Session

from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.pii import mask_phone
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, utcnow
from notifications import counters
from notifications.channels import (
    ChannelError,
    SendResult,
    all_sms_gateways,
    configured_gateways,
    get_sms_gateway,
    record_outcome,
    sms_segments,
)
from notifications.models import (
    FAILED_STATUSES,
    FINAL_STATUSES,
    InboxMessage,
    Notification,
    NotificationEvent,
    NotificationPreference,
    SandboxMessage,
    WechatSubscription,
    new_notification_id,
)
from notifications.templates import Template, TemplateError, get_template
from notifications.wechat import get_wechat

log = logging.getLogger(__name__)

PENDING_KEY = "notifications_to_publish"
STUCK_AFTER = timedelta(seconds=60)  # kept for callers of the foundation API; config decides
MAX_ATTEMPTS = 5
SWEEP_BATCH = 2000
MAX_SUBSCRIPTIONS_PER_TEMPLATE = 50

# Which statuses a status may be reached from. Final statuses are sources of nothing.
SOURCES: dict[str, tuple[str, ...]] = {
    "created": ("queued", "sending"),  # deferred (rate limit) back to the outbox
    "queued": ("created", "queued", "sending"),
    "sending": ("created", "queued"),
    "sent": ("sending",),
    "delivered": ("sending", "sent"),
    "temporary_failure": ("sending", "sent"),
    "permanent_failure": ("created", "queued", "sending", "sent"),
    "cancelled": ("created", "queued", "sending"),
}


class RetryLater(Exception):
    """A temporary failure; the task should retry with backoff."""

    def __init__(self, attempts: int) -> None:
        super().__init__(attempts)
        self.attempts = attempts


# --- writing to the outbox ------------------------------------------------------------------------


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
    urgent = urgent or template.urgent
    deliver_after = None if urgent else _quiet_hours_deferral(account_id, utcnow())
    return _write_outbox(
        dedupe_key=dedupe_key,
        account_id=account_id,
        phone=recipient,
        wechat_openid=openid,
        template=template,
        params=json.dumps(params, ensure_ascii=False),
        urgent=urgent,
        deliver_after=deliver_after,
    )


def _write_outbox(*, template: Template, urgent: bool, deliver_after: datetime | None, **values: Any) -> str | None:
    notification_id, now = new_notification_id(), utcnow()
    inserted = insert_ignoring_conflict(
        Notification,
        id=notification_id,
        template_code=template.code,
        template_version=template.version,
        urgent=urgent,
        essential=template.essential,
        status="created",
        deliver_after=deliver_after,
        request_id=getattr(g, "request_id", None) if has_request_context() else None,
        created_at=now,
        updated_at=now,
        **values,
    )
    if not inserted:
        return None
    db.session.add(NotificationEvent(notification_id=notification_id, status="created", detail=_deferral_detail(deliver_after)))
    if deliver_after is None:  # deferred rows are published by the sweep when they are due
        db.session.info.setdefault(PENDING_KEY, []).append((notification_id, urgent))
    return notification_id


def _deferral_detail(deliver_after: datetime | None) -> str | None:
    return f"quiet hours: deferred to {deliver_after.astimezone(CITY_TZ).isoformat()}" if deliver_after else None


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
    start_text, end_text = current_app.config["NOTIFY_QUIET_HOURS"].split("-")
    end_at = quiet_hours_end(now, time.fromisoformat(start_text), time.fromisoformat(end_text))
    if end_at is None:
        return None
    if account_id is not None and not get_preferences(account_id)["quiet_hours"]:
        return None
    return end_at


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        publish(pending)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def publish(pending: list[tuple[str, bool]]) -> int:
    """Hand rows to the broker. On the first failure the rest are left to the sweep job (a dead broker
    must not hold the caller's request for one connection timeout per message)."""
    from notifications.tasks import send_notification, send_urgent_notification

    published = []
    for notification_id, urgent in pending:
        task = send_urgent_notification if urgent else send_notification
        try:
            task.apply_async((notification_id,), retry=False)
        except Exception as exc:  # broker down: the rows stay as they are and are swept later
            log.warning("could not publish %d notification(s): %s", len(pending) - len(published), type(exc).__name__)
            break
        published.append(notification_id)
    if published:
        # A separate connection: the caller's transaction is already committed.
        now = utcnow()
        with db.engine.begin() as connection:
            newly_queued = (
                connection.execute(
                    update(Notification)
                    .where(Notification.id.in_(published), Notification.status == "created")
                    .values(status="queued", updated_at=now)
                    .returning(Notification.id)
                )
                .scalars()
                .all()
            )
            connection.execute(
                update(Notification)
                .where(Notification.id.in_(published), Notification.status == "queued", Notification.id.not_in(newly_queued))
                .values(updated_at=now)
            )
            if newly_queued:
                connection.execute(
                    NotificationEvent.__table__.insert(),
                    [{"notification_id": nid, "status": "queued", "detail": None, "at": now} for nid in newly_queued],
                )
    return len(published)


# --- the status machine ---------------------------------------------------------------------------


def _transition(notification_id: str, status: str, detail: str | None = None, *, where: Any = None, **values: Any) -> bool:
    """Move to ``status`` if the current status allows it; add a history row. Caller commits."""
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


def _load(notification_id: str) -> Notification | None:
    return db.session.get(Notification, notification_id, populate_existing=True)


# --- sending --------------------------------------------------------------------------------------


def send(notification_id: str) -> str:
    """Send one notification if nobody else is sending it. Returns the resulting status.

    Write transactions per SMS: the claim (with the recipient's rate-limit count), then the result.
    No transaction is open while a gateway is called.
    """
    now = utcnow()
    claimed = _transition(
        notification_id,
        "sending",
        where=or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now + timedelta(seconds=1)),
        attempts=Notification.attempts + 1,
    )
    notification = _load(notification_id)
    if not claimed:
        db.session.commit()
        return notification.status if notification is not None else "missing"
    try:
        template = get_template(notification.template_code)
    except TemplateError as exc:
        _finish(notification, "permanent_failure", f"template_error: {exc}")
        return _load(notification_id).status
    too_old = _age_limit_exceeded(notification, template, now)
    if too_old:
        _finish(notification, "permanent_failure", too_old, inbox=False)
        return "permanent_failure"
    channels, skipped = _usable_push_channels(notification, template)
    if channels[:1] == ["sms"] and _deferred_by_rate_limit(notification):  # counted in the claim's transaction
        return "created"
    db.session.commit()
    return _send_claimed(notification, template, json.loads(notification.params), channels, skipped)


def _age_limit_exceeded(notification: Notification, template: Template, now: datetime) -> str | None:
    config = current_app.config
    limit = template.max_age_seconds or (
        config["NOTIFY_URGENT_MAX_AGE_SECONDS"] if notification.urgent else config["NOTIFY_MAX_AGE_SECONDS"]
    )
    start = max(notification.created_at, notification.deliver_after or notification.created_at)
    age = (now - start).total_seconds()
    return f"expired: not sent within {limit} s (age {int(age)} s)" if age > limit else None


def _send_claimed(notification: Notification, template: Template, params: dict, channels: list[str], skipped: list[str]) -> str:
    text = template.render(params)
    for position, channel in enumerate(channels):
        if channel == "wechat":
            result = _send_wechat(notification, template, params, text)
            if result is not None:
                return _record_sent(notification, "wechat", result)
            skipped.append("wechat: fell back")
            continue
        if position > 0:  # SMS as a fallback: not counted against the rate limit yet
            if _deferred_by_rate_limit(notification):
                return "created"
            db.session.commit()
        result = _already_at_a_gateway(notification) or _send_sms(notification, text)  # RetryLater; None: failed for good
        if result is None:
            return _load(notification.id).status
        return _record_sent(notification, "sms", result)
    if "inbox" in template.channels and notification.account_id:
        _finish(notification, "delivered", "inbox only" + (f" ({'; '.join(skipped)})" if skipped else ""), channel="inbox")
        return "delivered"
    _finish(notification, "cancelled", "no usable channel" + (f": {'; '.join(skipped)}" if skipped else ""), inbox=False)
    return "cancelled"


def _usable_push_channels(notification: Notification, template: Template) -> tuple[list[str], list[str]]:
    prefs = get_preferences(notification.account_id) if notification.account_id else None
    usable, skipped = [], []
    for channel in template.push_channels:
        if prefs is not None and not notification.essential and not prefs[channel]:
            skipped.append(f"{channel}: opted out")
        elif channel == "wechat" and not (notification.wechat_openid and template.wechat_template_id and notification.account_id):
            skipped.append("wechat: not bound")
        elif channel == "sms" and not notification.phone:
            skipped.append("sms: no phone")
        else:
            usable.append(channel)
    return usable, skipped


def _send_wechat(notification: Notification, template: Template, params: dict, text: str) -> SendResult | None:
    """Send by WeChat if the citizen holds a subscription for this template; None means fall back."""
    consumed = db.session.execute(
        update(WechatSubscription)
        .where(
            WechatSubscription.account_id == notification.account_id,
            WechatSubscription.template_code == template.code,
            WechatSubscription.remaining > 0,
        )
        .values(remaining=WechatSubscription.remaining - 1, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    if not consumed:
        db.session.add(NotificationEvent(notification_id=notification.id, status="sending", detail="wechat: no subscription, SMS instead"))
        return None
    try:
        return get_wechat().send(
            notification.wechat_openid, template.wechat_template_id, template.wechat_page, params, text, notification.id
        )
    except ChannelError as exc:
        if exc.reason == "wechat_not_subscribed":
            _set_subscription(notification.account_id, template.code, 0)
        db.session.add(
            NotificationEvent(notification_id=notification.id, status="sending", detail=f"wechat failed, SMS instead: {exc.reason}")
        )
        return None


def _deferred_by_rate_limit(notification: Notification) -> bool:
    """Per-recipient SMS limit for non-urgent messages (shared by all workers). Over the limit, the
    message goes back to the outbox until the window ends (committed); else the caller commits."""
    if notification.urgent:
        return False
    config = current_app.config
    window = config["NOTIFY_SMS_RATE_WINDOW_SECONDS"]
    if counters.hit(f"rate:sms:{notification.phone}", window) <= config["NOTIFY_SMS_PER_RECIPIENT"]:
        return False
    counters.hit(f"rate:sms:{notification.phone}", window, amount=-1)  # it was not sent after all
    limited_until = counters.window_end(window)
    _transition(
        notification.id,
        "created",
        f"rate limited: deferred to {limited_until.isoformat()}",
        deliver_after=limited_until,
        attempts=Notification.attempts - 1,
    )
    db.session.commit()
    return True


def _already_at_a_gateway(notification: Notification) -> SendResult | None:
    """After a timeout the gateway may have accepted the message anyway: ask before sending again."""
    if notification.attempts < 2 or "timeout" not in (notification.last_error or ""):
        return None
    for gateway in all_sms_gateways():
        try:
            reference = gateway.lookup(notification.id)
        except ChannelError:
            continue
        if reference:
            return SendResult(gateway.name, reference, sms_segments(template_text(notification)))
    return None


def template_text(notification: Notification) -> str:
    return get_template(notification.template_code).render(json.loads(notification.params))


def _send_sms(notification: Notification, text: str) -> SendResult | None:
    gateway = get_sms_gateway()
    try:
        result = gateway.send(notification.phone, text, notification.id)
    except ChannelError as exc:
        record_outcome(gateway.name, ok=False)
        if exc.permanent:
            _finish(notification, "permanent_failure", exc.reason, provider=gateway.name, channel="sms")
            return None
        if notification.attempts >= current_app.config["NOTIFY_MAX_ATTEMPTS"]:
            _finish(
                notification,
                "permanent_failure",
                f"gave up after {notification.attempts} attempts; last: {exc.reason}",
                provider=gateway.name,
                channel="sms",
            )
            return None
        _transition(notification.id, "queued", f"attempt {notification.attempts} failed, retrying: {exc.reason}", last_error=exc.reason)
        db.session.commit()
        raise RetryLater(notification.attempts) from exc
    record_outcome(gateway.name, ok=True)
    return result


def _record_sent(notification: Notification, channel: str, result: SendResult) -> str:
    values = {"channel": channel, "provider": result.provider, "provider_ref": result.provider_ref, "segments": result.segments}
    _relaxed_durability()
    _add_inbox_copy(notification)
    _transition(notification.id, "sent", f"{channel} via {result.provider}", sent_at=utcnow(), **values)
    if result.delivered:
        _transition(notification.id, "delivered", f"{result.provider}: accepted by the recipient's channel")
    db.session.commit()
    return "delivered" if result.delivered else "sent"


def _relaxed_durability() -> None:
    """PostgreSQL: this transaction's commit need not wait for the WAL flush. Safe for the result of a
    send: if a database crash lost it, the row is still ``sending`` and the sweep settles it by asking
    the gateway (never by sending again). Claims stay fully durable."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _finish(notification: Notification, status: str, detail: str, *, inbox: bool = True, **values: Any) -> None:
    """Move to a final status (inbox copy included when the template has one) and commit."""
    if inbox:
        _add_inbox_copy(notification)
    if status in FAILED_STATUSES:
        values["last_error"] = detail
    _transition(notification.id, status, detail, **values)
    db.session.commit()


def _add_inbox_copy(notification: Notification) -> None:
    if not notification.account_id:
        return
    template = get_template(notification.template_code)
    if "inbox" not in template.channels:
        return
    insert_ignoring_conflict(
        InboxMessage,
        account_id=notification.account_id,
        notification_id=notification.id,
        title=template.title or "消息通知",
        body=template.render(json.loads(notification.params)),
        created_at=utcnow(),
    )


# --- delivery receipts ----------------------------------------------------------------------------

RECEIPT_STATUSES = {
    "delivered": "delivered",
    "failed": "permanent_failure",
    "rejected": "permanent_failure",
    "undeliverable": "permanent_failure",
    "expired": "temporary_failure",
    "temporary_failure": "temporary_failure",
}


def webhook_secret() -> str:
    return current_app.config["SMS_WEBHOOK_SECRET"]


def record_receipt(provider: str, message_id: str, receipt_status: str, error_code: str | None = None) -> dict:
    """Apply a gateway's delivery receipt. Late or repeated receipts never move a final status back."""
    if provider not in {name for name, _, _ in configured_gateways()}:
        raise Problem(404, "unknown_provider", "未知的短信服务商")
    notification = db.session.scalar(select(Notification).where(Notification.provider == provider, Notification.provider_ref == message_id))
    if notification is None:
        raise Problem(404, "notification_not_found", "找不到对应的消息")
    target = RECEIPT_STATUSES[receipt_status]
    detail = f"receipt from {provider}: {receipt_status}" + (f" ({error_code})" if error_code else "")
    values = {"last_error": detail} if target in FAILED_STATUSES else {}
    moved = _transition(notification.id, target, detail, where=Notification.status == "sent", **values)
    db.session.commit()
    current = _load(notification.id)
    if not moved:
        log.info("ignored receipt %s for notification %s already %s", receipt_status, notification.id, current.status)
    return {"id": current.id, "status": current.status, "applied": moved}


# --- the sweep ------------------------------------------------------------------------------------


def sweep_stuck(stuck_after: timedelta | None = None) -> int:
    """Publish what is due or stuck (broker was down, worker died, deferral over); settle rows a dead
    worker left ``sending`` by asking the gateways whether they got them. Returns rows published."""
    now = utcnow()
    if stuck_after is None:
        stuck_after = timedelta(seconds=current_app.config["NOTIFY_STUCK_SECONDS"])
    cutoff = now - stuck_after
    due = db.session.execute(
        select(Notification.id, Notification.urgent)
        .where(
            or_(
                and_(Notification.status == "created", Notification.deliver_after.is_(None), Notification.updated_at < cutoff),
                and_(Notification.status == "created", Notification.deliver_after <= now),
                and_(Notification.status == "queued", Notification.updated_at < cutoff),
            )
        )
        .order_by(Notification.created_at)
        .limit(SWEEP_BATCH)
    ).all()
    pending = [(row.id, row.urgent) for row in due] + _settle_abandoned_sends(now, stuck_after)
    counters.purge_expired()
    db.session.commit()
    published = publish(pending) if pending else 0
    if pending:
        log.info("swept %d notifications, published %d", len(pending), published)
    return published


def _settle_abandoned_sends(now: datetime, stuck_after: timedelta) -> list[tuple[str, bool]]:
    # Longer than any live send can take (two gateway timeouts and some), so a live worker is never raced.
    timeout = current_app.config["HTTP_TIMEOUT_SECONDS"]
    cutoff = now - max(stuck_after, timedelta(seconds=2 * timeout + 5))
    rows = db.session.execute(
        select(Notification.id, Notification.urgent)
        .where(Notification.status == "sending", Notification.updated_at < cutoff)
        .limit(SWEEP_BATCH)
    ).all()
    again = []
    for row in rows:
        try:
            found = next(((gw.name, ref) for gw in all_sms_gateways() if (ref := gw.lookup(row.id))), None)
        except ChannelError as exc:
            log.warning("cannot settle notification %s now: %s", row.id, exc.reason)
            continue
        still_abandoned = Notification.updated_at < cutoff
        if found:
            _transition(
                row.id,
                "sent",
                f"recovered: {found[0]} had received it",
                where=still_abandoned,
                channel="sms",
                provider=found[0],
                provider_ref=found[1],
                sent_at=now,
            )
        elif _transition(row.id, "queued", "recovered: the sender died before the gateway got it", where=still_abandoned):
            again.append((row.id, row.urgent))
    return again


# --- in-app inbox ---------------------------------------------------------------------------------


def inbox(account_id: str, page: int, per_page: int, unread_only: bool = False) -> dict:
    statement = select(InboxMessage).where(InboxMessage.account_id == account_id)
    if unread_only:
        statement = statement.where(InboxMessage.read_at.is_(None))
    result = paginate(statement.order_by(InboxMessage.id.desc()), page, per_page)
    unread = db.session.scalar(
        select(func.count()).select_from(InboxMessage).where(InboxMessage.account_id == account_id, InboxMessage.read_at.is_(None))
    )
    return result.as_dict(unread=unread or 0)


def mark_read(account_id: str, message_id: int) -> InboxMessage:
    message = db.session.get(InboxMessage, message_id)
    if message is None or message.account_id != account_id:
        raise Problem(404, "message_not_found", "消息不存在")
    db.session.execute(update(InboxMessage).where(InboxMessage.id == message_id, InboxMessage.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    db.session.refresh(message)
    return message


# --- preferences and WeChat subscriptions ---------------------------------------------------------

DEFAULT_PREFERENCES = {"sms": True, "wechat": True, "quiet_hours": True}


def get_preferences(account_id: str) -> dict:
    row = db.session.get(NotificationPreference, account_id)
    if row is None:
        return dict(DEFAULT_PREFERENCES)
    return {"sms": row.sms, "wechat": row.wechat, "quiet_hours": row.quiet_hours}


def update_preferences(account_id: str, changes: dict) -> dict:
    insert_ignoring_conflict(NotificationPreference, account_id=account_id, updated_at=utcnow(), **DEFAULT_PREFERENCES)
    if changes:
        db.session.execute(
            update(NotificationPreference).where(NotificationPreference.account_id == account_id).values(updated_at=utcnow(), **changes)
        )
    db.session.commit()
    db.session.expire_all()
    return get_preferences(account_id)


def add_wechat_subscriptions(account_id: str, template_codes: list[str]) -> list[dict]:
    """Record the templates the citizen accepted in ``wx.requestSubscribeMessage`` (one message each)."""
    for code in template_codes:
        try:
            template = get_template(code)
        except TemplateError:
            template = None
        if template is None or not template.wechat_template_id or "wechat" not in template.channels:
            raise Problem(422, "template_not_subscribable", "该消息不支持微信订阅", errors={"template_codes": [code]})
    for code in dict.fromkeys(template_codes):
        insert_ignoring_conflict(WechatSubscription, account_id=account_id, template_code=code, remaining=0, updated_at=utcnow())
        db.session.execute(
            update(WechatSubscription)
            .where(
                WechatSubscription.account_id == account_id,
                WechatSubscription.template_code == code,
                WechatSubscription.remaining < MAX_SUBSCRIPTIONS_PER_TEMPLATE,
            )
            .values(remaining=WechatSubscription.remaining + 1, updated_at=utcnow())
        )
    db.session.commit()
    rows = db.session.scalars(
        select(WechatSubscription).where(WechatSubscription.account_id == account_id).order_by(WechatSubscription.template_code)
    ).all()
    return [{"template_code": row.template_code, "remaining": row.remaining} for row in rows]


def _set_subscription(account_id: str, template_code: str, remaining: int) -> None:
    db.session.execute(
        update(WechatSubscription)
        .where(WechatSubscription.account_id == account_id, WechatSubscription.template_code == template_code)
        .values(remaining=remaining, updated_at=utcnow())
    )


# --- staff ----------------------------------------------------------------------------------------


def staff_view(notification: Notification, events: list[NotificationEvent] | None = None) -> dict:
    view = {
        "id": notification.id,
        "template_code": notification.template_code,
        "template_version": notification.template_version,
        "account_id": notification.account_id,
        "phone_masked": mask_phone(notification.phone),
        "urgent": notification.urgent,
        "status": notification.status,
        "channel": notification.channel,
        "provider": notification.provider,
        "segments": notification.segments,
        "attempts": notification.attempts,
        "last_error": notification.last_error,
        "deliver_after": notification.deliver_after,
        "created_at": notification.created_at,
        "sent_at": notification.sent_at,
        "final_at": notification.final_at,
        "resent_from": notification.resent_from,
    }
    if events is not None:
        view["events"] = [{"status": e.status, "detail": e.detail, "at": e.at} for e in events]
    return view


def staff_list(actor: str, filters: dict, page: int, per_page: int) -> dict:
    statement = select(Notification).order_by(Notification.created_at.desc(), Notification.id)
    for name in ("status", "channel", "template_code"):
        if filters.get(name):
            statement = statement.where(getattr(Notification, name) == filters[name])
    result: Page = paginate(statement, page, per_page)
    record_audit(actor, "notifications.list", "notification", "*", details={k: v for k, v in filters.items() if v})
    db.session.commit()
    return result.as_dict() | {"items": [staff_view(n) for n in result.items]}


def staff_detail(actor: str, notification_id: str) -> dict:
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        raise Problem(404, "notification_not_found", "找不到该消息")
    events = db.session.scalars(
        select(NotificationEvent).where(NotificationEvent.notification_id == notification_id).order_by(NotificationEvent.id)
    ).all()
    record_audit(actor, "notifications.read", "notification", notification_id)
    db.session.commit()
    return staff_view(notification, list(events))


def resend(actor: str, notification_id: str, reason: str) -> dict:
    """Send a failed message again as a new notification (the failed one keeps its final status)."""
    original = db.session.get(Notification, notification_id)
    if original is None:
        raise Problem(404, "notification_not_found", "找不到该消息")
    if original.status not in FAILED_STATUSES:
        raise Problem(409, "notification_not_failed", "只能重发发送失败的消息", status_now=original.status)
    template = get_template(original.template_code)
    new_id = _write_outbox(
        dedupe_key=f"resend:{original.id}",
        account_id=original.account_id,
        phone=original.phone,
        wechat_openid=original.wechat_openid,
        template=template,
        params=original.params,
        urgent=original.urgent,
        deliver_after=None,
        resent_from=original.id,
    )
    if new_id is None:
        db.session.rollback()
        raise Problem(409, "notification_already_resent", "该消息已经重发过")
    record_audit(actor, "notifications.resend", "notification", original.id, reason=reason, details={"new_id": new_id})
    db.session.commit()
    return staff_view(db.session.get(Notification, new_id))


def counts_last_24h() -> dict:
    until = utcnow()
    since = until - timedelta(hours=24)
    rows = db.session.execute(
        select(Notification.status, Notification.channel, func.count())
        .where(Notification.created_at >= since)
        .group_by(Notification.status, Notification.channel)
    ).all()
    by_status: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for status, channel, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_channel[channel or "none"] = by_channel.get(channel or "none", 0) + count
    return {
        "since": since,
        "until": until,
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_channel": by_channel,
        "by_status_and_channel": [
            {"status": s, "channel": c or "none", "count": n} for s, c, n in sorted(rows, key=lambda r: (r[0], r[1] or ""))
        ],
    }


# --- sandbox --------------------------------------------------------------------------------------


def sandbox_messages(recipient: str | None, page: int, per_page: int) -> Page:
    statement = select(SandboxMessage).order_by(SandboxMessage.id.desc())
    if recipient:
        statement = statement.where(SandboxMessage.recipient == recipient)
    return paginate(statement, page, per_page)
