"""The notification outbox, its history, the in-app inbox, preferences, and channel state."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText
from mobile_api.timeutil import UTCDateTime, utcnow


class NotificationStatus(StrEnum):
    """Where a notification is: created → queued → sending → sent → one of the final statuses."""

    CREATED = "created"  # in the outbox, not yet handed to the broker (or deferred back to it)
    QUEUED = "queued"  # handed to the broker
    SENDING = "sending"  # claimed by a worker, which may be talking to a gateway now
    SENT = "sent"  # a gateway accepted it; its receipt will say whether it arrived
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"
    CANCELLED = "cancelled"  # no usable channel


class Channel(StrEnum):
    """How a notification reached (or was meant to reach) its recipient."""

    INBOX = "inbox"
    WECHAT = "wechat"
    SMS = "sms"


class MessageKind(StrEnum):
    """What a message is to the citizen; it decides what may hold it back and what the citizen may turn off.

    Every kind but ``code`` gets its inbox copy at once, in the transaction that created the message.
    Quiet hours and the per-phone SMS cap hold only ``reminder`` and ``notice``; those are also the only
    optional kinds (the citizen's SMS / WeChat opt-outs apply to them; their inbox copy always stays).
    """

    CODE = "code"  # a one-time sign-in code: never held, never in the inbox (a secret, and usually no account yet)
    RESULT = "result"  # the outcome of the citizen's own business: a case result, a booking, a verification
    CHANGE = "change"  # a change that matters today: a place offered, a queue number called, a hall closed
    REMINDER = "reminder"  # a reminder of something already known (an appointment tomorrow)
    NOTICE = "notice"  # a general, marketing-like notice


HELD_KINDS = frozenset({MessageKind.REMINDER, MessageKind.NOTICE})
OPTIONAL_KINDS = frozenset({MessageKind.REMINDER, MessageKind.NOTICE})


FINAL_STATUSES = (
    NotificationStatus.DELIVERED,
    NotificationStatus.TEMPORARY_FAILURE,
    NotificationStatus.PERMANENT_FAILURE,
    NotificationStatus.CANCELLED,
)
STATUSES = tuple(NotificationStatus)
FAILED_STATUSES = (NotificationStatus.TEMPORARY_FAILURE, NotificationStatus.PERMANENT_FAILURE)


def new_notification_id() -> str:
    return uuid.uuid4().hex


class Notification(db.Model):
    """One message to one person, written in the caller's transaction (transactional outbox)."""

    __tablename__ = "notifications"
    # The messages waiting for a first try, oldest first (notifications.batch tops batches up from it).
    __table_args__ = (
        Index(
            "ix_notifications_queued_created_at",
            "created_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_notification_id)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    phone: Mapped[str | None] = mapped_column(String(11))
    template_code: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[int] = mapped_column(Integer)
    # Parameters can hold sign-in codes and names: sealed like every other personal datum.
    params: Mapped[str] = mapped_column(EncryptedText("notification.params"))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(24), default=NotificationStatus.CREATED.value, index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    segments: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 0002_notifications
    # Not before this time (quiet hours, per-recipient rate limit); the sweep publishes it then.
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    essential: Mapped[bool] = mapped_column(Boolean, default=True)  # not optional (MessageKind): opt-outs do not apply
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resent_from: Mapped[str | None] = mapped_column(String(32))


class NotificationEvent(db.Model):
    """Status history of a notification."""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SandboxMessage(db.Model):
    """What a local (sandbox) channel adapter would have sent. Exists only to be read back."""

    __tablename__ = "sandbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxMessage(db.Model):
    """A message in the citizen's in-app inbox (one per notification at most)."""

    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(EncryptedText("inbox.body"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationPreference(db.Model):
    """A citizen's choices: optional messages (reminders, notices) by SMS / WeChat, and quiet hours."""

    __tablename__ = "notification_preferences"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    wechat: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WechatSubscription(db.Model):
    """One-time subscribe-message grants (wx.requestSubscribeMessage): each allows one message."""

    __tablename__ = "wechat_subscriptions"
    __table_args__ = (UniqueConstraint("account_id", "template_code", name="uq_wechat_subscriptions_account_template"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32))
    template_code: Mapped[str] = mapped_column(String(64))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ChannelCounter(db.Model):
    """Windowed counters (rate limits, provider error rates) when the deployment has no Redis."""

    __tablename__ = "channel_counters"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ChannelToken(db.Model):
    """Cached access tokens (WeChat) when the deployment has no Redis."""

    __tablename__ = "channel_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(EncryptedText("channel.token"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
