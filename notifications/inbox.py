"""The citizen's side: the in-app inbox, notification preferences, and WeChat subscriptions."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select, update

from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import paginate
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications.models import Channel, InboxMessage, NotificationPreference, WechatSubscription
from notifications.templates import TemplateError, get_template

MAX_SUBSCRIPTIONS_PER_TEMPLATE = 50

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
    """Mark one of the citizen's messages read; another citizen's message is ``message_not_found``."""
    with transaction():
        message = db.session.get(InboxMessage, message_id)
        if message is None or message.account_id != account_id:
            raise Problem(404, "message_not_found", "消息不存在")
        db.session.execute(
            update(InboxMessage).where(InboxMessage.id == message_id, InboxMessage.read_at.is_(None)).values(read_at=utcnow())
        )
    db.session.refresh(message)
    return message


# --- preferences and WeChat subscriptions ---------------------------------------------------------

DEFAULT_PREFERENCES = {"sms": True, "wechat": True, "quiet_hours": True}


def get_preferences(account_id: str) -> dict:
    row = db.session.get(NotificationPreference, account_id)
    if row is None:
        return dict(DEFAULT_PREFERENCES)
    return {"sms": row.sms, "wechat": row.wechat, "quiet_hours": row.quiet_hours}


def preferences_of(account_ids: Collection[str]) -> dict[str, dict]:
    """``get_preferences`` for many accounts with one statement."""
    if not account_ids:
        return {}
    found = {
        row.account_id: {"sms": row.sms, "wechat": row.wechat, "quiet_hours": row.quiet_hours}
        for row in db.session.scalars(select(NotificationPreference).where(NotificationPreference.account_id.in_(list(account_ids))))
    }
    return {account_id: found.get(account_id, dict(DEFAULT_PREFERENCES)) for account_id in account_ids}


def update_preferences(account_id: str, changes: dict) -> dict:
    with transaction():
        insert_ignoring_conflict(NotificationPreference, account_id=account_id, updated_at=utcnow(), **DEFAULT_PREFERENCES)
        if changes:
            db.session.execute(
                update(NotificationPreference).where(NotificationPreference.account_id == account_id).values(updated_at=utcnow(), **changes)
            )
    db.session.expire_all()  # the UPDATE bypassed the session's copy of the row
    return get_preferences(account_id)


def add_wechat_subscriptions(account_id: str, template_codes: list[str]) -> list[dict]:
    """Record the templates the citizen accepted in ``wx.requestSubscribeMessage`` (one message each)."""
    for code in template_codes:
        _check_subscribable(code)
    with transaction():
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
    rows = db.session.scalars(
        select(WechatSubscription).where(WechatSubscription.account_id == account_id).order_by(WechatSubscription.template_code)
    ).all()
    return [{"template_code": row.template_code, "remaining": row.remaining} for row in rows]


def _check_subscribable(code: str) -> None:
    try:
        template = get_template(code)
    except TemplateError:
        template = None
    if template is None or not template.wechat_template_id or Channel.WECHAT not in template.channels:
        raise Problem(422, "template_not_subscribable", "该消息不支持微信订阅", errors={"template_codes": [code]})


def set_subscription(account_id: str, template_code: str, remaining: int) -> None:
    """Set how many messages the citizen's grant still allows (in the caller's transaction)."""
    db.session.execute(
        update(WechatSubscription)
        .where(WechatSubscription.account_id == account_id, WechatSubscription.template_code == template_code)
        .values(remaining=remaining, updated_at=utcnow())
    )
