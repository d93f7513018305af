"""Messages in a citizen's data export and account closure (registered as the ``messages`` provider).

Exported: notification preferences, WeChat subscriptions, the in-app inbox, and every message sent to the
account or to its phone (sign-in codes sent before the account existed included): template, channel,
status, times and text. Erased on closure: inbox, preferences and subscriptions; messages not yet sent are
cancelled; every outbox row of the account or phone loses its phone, WeChat id, parameters and link to the
account — what stays is an anonymous delivery record (template, status, times) for the service's figures.
The sandbox copies (development only) of messages to the phone are deleted.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, or_, select, update

from mobile_api.extensions import db
from mobile_api.personal_data import Subject
from notifications.inbox import get_preferences
from notifications.models import (
    InboxMessage,
    Notification,
    NotificationPreference,
    NotificationStatus,
    SandboxMessage,
    WechatSubscription,
)
from notifications.templates import TemplateError, get_template
from notifications.transitions import transition

NOT_SENT_YET = (NotificationStatus.CREATED, NotificationStatus.QUEUED)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _theirs(subject: Subject):
    condition = Notification.account_id == subject.account_id
    return or_(condition, Notification.phone == subject.phone) if subject.phone else condition


def _text(row: Notification) -> str | None:
    try:
        return get_template(row.template_code).render(json.loads(row.params))
    except (TemplateError, KeyError, ValueError):
        return None


def export_messages(subject: Subject) -> dict:
    inbox = db.session.scalars(select(InboxMessage).where(InboxMessage.account_id == subject.account_id).order_by(InboxMessage.id)).all()
    subscriptions = db.session.scalars(select(WechatSubscription).where(WechatSubscription.account_id == subject.account_id)).all()
    sent = db.session.scalars(select(Notification).where(_theirs(subject)).order_by(Notification.created_at)).all()
    return {
        "preferences": get_preferences(subject.account_id),
        "wechat_subscriptions": [{"template_code": s.template_code, "remaining": s.remaining} for s in subscriptions],
        "inbox": [{"title": m.title, "body": m.body, "created_at": _iso(m.created_at), "read_at": _iso(m.read_at)} for m in inbox],
        "messages_sent": [
            {
                "template": n.template_code,
                "text": _text(n),
                "channel": n.channel,
                "status": n.status,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
            }
            for n in sent
        ],
    }


def erase_messages(subject: Subject, context: dict) -> dict:
    """In the caller's transaction."""
    pending = db.session.scalars(select(Notification.id).where(_theirs(subject), Notification.status.in_(NOT_SENT_YET))).all()
    cancelled = sum(transition(notification_id, NotificationStatus.CANCELLED, "account closed") for notification_id in pending)
    erased = {
        "inbox": _delete(delete(InboxMessage).where(InboxMessage.account_id == subject.account_id)),
        "preferences": _delete(delete(NotificationPreference).where(NotificationPreference.account_id == subject.account_id)),
        "wechat_subscriptions": _delete(delete(WechatSubscription).where(WechatSubscription.account_id == subject.account_id)),
        "sandbox_copies": _delete(delete(SandboxMessage).where(SandboxMessage.recipient == subject.phone)) if subject.phone else 0,
        "messages_cancelled": cancelled,
        "messages_anonymised": db.session.execute(
            update(Notification)
            .where(_theirs(subject))
            .values(account_id=None, phone=None, wechat_openid=None, params="{}")
            .execution_options(synchronize_session=False)
        ).rowcount,
    }
    return {"erased": erased, "kept": {"delivery_records": "anonymous: template, status and times, for the service's figures"}}


def _delete(statement) -> int:
    return db.session.execute(statement).rowcount or 0
