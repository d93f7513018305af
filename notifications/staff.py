"""Staff views of the outbox (supervisors: lists, history, counts, resending a failed message; every
read audited) and the sandbox, where the local channel adapters record what they would have sent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.pii import mask_phone
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications.models import FAILED_STATUSES, Notification, NotificationEvent, SandboxMessage
from notifications.outbox import write_outbox
from notifications.templates import get_template


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
    with transaction():  # the read and its audit row
        result: Page = paginate(statement, page, per_page)
        record_audit(actor, "notifications.list", "notification", "*", details={k: v for k, v in filters.items() if v})
        return result.as_dict() | {"items": [staff_view(n) for n in result.items]}


def staff_detail(actor: str, notification_id: str) -> dict:
    with transaction():  # the read and its audit row
        notification = db.session.get(Notification, notification_id)
        if notification is None:
            raise Problem(404, "notification_not_found", "找不到该消息")
        events = db.session.scalars(
            select(NotificationEvent).where(NotificationEvent.notification_id == notification_id).order_by(NotificationEvent.id)
        ).all()
        record_audit(actor, "notifications.read", "notification", notification_id)
        return staff_view(notification, list(events))


def resend(actor: str, notification_id: str, reason: str) -> dict:
    """Send a failed message again as a new notification (the failed one keeps its final status)."""
    with transaction():
        original = db.session.get(Notification, notification_id)
        if original is None:
            raise Problem(404, "notification_not_found", "找不到该消息")
        if original.status not in FAILED_STATUSES:
            raise Problem(409, "notification_not_failed", "只能重发发送失败的消息", status_now=original.status)
        new_id = write_outbox(
            dedupe_key=f"resend:{original.id}",
            account_id=original.account_id,
            phone=original.phone,
            wechat_openid=original.wechat_openid,
            template=get_template(original.template_code),
            params=original.params,
            urgent=original.urgent,
            deliver_after=None,
            inbox=False,  # the citizen's inbox already has it (written with the original)
            resent_from=original.id,
        )
        if new_id is None:
            raise Problem(409, "notification_already_resent", "该消息已经重发过")
        record_audit(actor, "notifications.resend", "notification", original.id, reason=reason, details={"new_id": new_id})
    # After the commit: the new row has been published, and the answer shows it queued.
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
