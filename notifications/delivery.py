"""Sending one notification: claim it, choose its channel, send it, record the result.

Each step that writes is a ``transaction()`` block of its own, committed before the next network call:

1. the claim (``sending``, ``attempts + 1``, and the recipient's rate-limit count), committed before
   any gateway is called: no write transaction is open during a network call, and a worker that dies
   mid-send leaves the row ``sending``, which the sweep settles by asking the gateways whether they got
   it (never by sending again);
2. for WeChat, one subscription consumed (also before the call: a grant allows one message);
3. the result (``sent``/``delivered``, or a failure), committed with relaxed durability on PostgreSQL
   (``relaxed_durability``). The inbox copy is not written here: ``notify()`` wrote it with the row.

Because those commits must really happen, ``send()`` refuses to run inside a caller's block.
Channels, per template in order: ``inbox`` (a copy for account holders), then the first usable of
``wechat`` (bound + subscribed; refused → SMS) and ``sms`` (failover between gateways by error rate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, text, update

from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import in_transaction_block, transaction
from notifications import counters
from notifications.channels import ChannelError, OutgoingSms, SendResult, sms_segments
from notifications.inbox import get_preferences, set_subscription
from notifications.models import (
    FAILED_STATUSES,
    Channel,
    Notification,
    NotificationEvent,
    NotificationStatus,
    WechatSubscription,
)
from notifications.providers import all_sms_gateways, get_sms_gateway, record_outcome
from notifications.templates import Template, TemplateError, get_template
from notifications.transitions import load, transition
from notifications.wechat import get_wechat


class RetryLater(Exception):
    """A temporary failure; the task should retry with backoff."""

    def __init__(self, attempts: int) -> None:
        super().__init__(attempts)
        self.attempts = attempts


def send(notification_id: str) -> str:
    """Send one notification if nobody else is sending it. Returns the resulting status.

    Raises ``RetryLater`` after a temporary failure (the row is ``queued`` again).
    """
    if in_transaction_block():
        raise RuntimeError("send() commits its claim before calling a gateway: call it outside a transaction() block")
    now = utcnow()
    with transaction():  # step 1, the claim
        claimed = transition(
            notification_id,
            NotificationStatus.SENDING,
            where=or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now + timedelta(seconds=1)),
            attempts=Notification.attempts + 1,
        )
        notification = load(notification_id)
        if not claimed:  # somebody else has it, it is final, or it is not due yet
            return notification.status if notification is not None else "missing"
        prepared = prepare_claimed(notification, now)
    if isinstance(prepared, str):
        return prepared
    return send_claimed(notification, prepared)


@dataclass
class Prepared:
    """A claimed message ready to go: its template, parameters and the push channels to try in order."""

    template: Template
    params: dict
    channels: list[str]
    skipped: list[str]

    @property
    def sms_first(self) -> bool:
        return self.channels[:1] == [Channel.SMS]


def prepare_claimed(notification: Notification, now: datetime, prefs: dict | None = None) -> Prepared | str:
    """In the claim's transaction: settle a message that cannot go (no template, too old: its final
    status; over the per-phone cap: ``created`` again), else choose its channels."""
    try:
        template = get_template(notification.template_code)
    except TemplateError as exc:  # no template, so no inbox copy either
        _finish(notification, NotificationStatus.PERMANENT_FAILURE, f"template_error: {exc}")
        return NotificationStatus.PERMANENT_FAILURE
    too_old = _age_limit_exceeded(notification, template, now)
    if too_old:
        _finish(notification, NotificationStatus.PERMANENT_FAILURE, too_old)
        return NotificationStatus.PERMANENT_FAILURE
    prepared = Prepared(template, json.loads(notification.params), *_usable_push_channels(notification, template, prefs))
    if prepared.sms_first and _deferred_by_rate_limit(notification, template):
        return NotificationStatus.CREATED
    return prepared


def _age_limit_exceeded(notification: Notification, template: Template, now: datetime) -> str | None:
    limit = template.max_age_seconds or setting("NOTIFY_URGENT_MAX_AGE_SECONDS" if notification.urgent else "NOTIFY_MAX_AGE_SECONDS")
    start = max(notification.created_at, notification.deliver_after or notification.created_at)
    age = (now - start).total_seconds()
    return f"expired: not sent within {limit} s (age {int(age)} s)" if age > limit else None


def _usable_push_channels(notification: Notification, template: Template, prefs: dict | None = None) -> tuple[list[str], list[str]]:
    if prefs is None and notification.account_id:
        prefs = get_preferences(notification.account_id)
    usable, skipped = [], []
    for channel in template.push_channels:
        if prefs is not None and not notification.essential and not prefs[channel]:
            skipped.append(f"{channel}: opted out")
        elif channel == Channel.WECHAT and not (notification.wechat_openid and template.wechat_template_id and notification.account_id):
            skipped.append("wechat: not bound")
        elif channel == Channel.SMS and not notification.phone:
            skipped.append("sms: no phone")
        else:
            usable.append(channel)
    return usable, skipped


def send_claimed(notification: Notification, prepared: Prepared) -> str:
    """Send a claimed, prepared message by the first channel that takes it; record the result."""
    template, params, channels, skipped = prepared.template, prepared.params, prepared.channels, prepared.skipped
    text = template.render(params)
    for position, channel in enumerate(channels):
        if channel == Channel.WECHAT:
            result = _send_wechat(notification, template, params, text)
            if result is not None:
                return _record_sent(notification, Channel.WECHAT, result)
            skipped.append("wechat: fell back")
            continue
        if position > 0:  # SMS as a fallback was not counted in the claim: count it, committed before the gateway call
            with transaction():
                deferred = _deferred_by_rate_limit(notification, template)
            if deferred:
                return NotificationStatus.CREATED
        return _send_sms(notification, outgoing_sms(notification, template, params, text))
    if template.has_inbox_copy and notification.account_id:
        _finish(
            notification,
            NotificationStatus.DELIVERED,
            "inbox only" + (f" ({'; '.join(skipped)})" if skipped else ""),
            channel=Channel.INBOX,
        )
        return NotificationStatus.DELIVERED
    _finish(notification, NotificationStatus.CANCELLED, "no usable channel" + (f": {'; '.join(skipped)}" if skipped else ""))
    return NotificationStatus.CANCELLED


def _send_wechat(notification: Notification, template: Template, params: dict, text: str) -> SendResult | None:
    """Send by WeChat if the citizen holds a subscription for this template; None means fall back."""
    with transaction():  # step 2: the grant is used once, committed before WeChat is called
        consumed = db.session.execute(
            update(WechatSubscription)
            .where(
                WechatSubscription.account_id == notification.account_id,
                WechatSubscription.template_code == template.code,
                WechatSubscription.remaining > 0,
            )
            .values(remaining=WechatSubscription.remaining - 1, updated_at=utcnow())
        ).rowcount
        if not consumed:
            _note(notification, "wechat: no subscription, SMS instead")
    if not consumed:
        return None
    try:
        return get_wechat().send(
            notification.wechat_openid, template.wechat_template_id, template.wechat_page, params, text, notification.id
        )
    except ChannelError as exc:
        with transaction():
            if exc.reason == "wechat_not_subscribed":
                set_subscription(notification.account_id, template.code, 0)
            _note(notification, f"wechat failed, SMS instead: {exc.reason}")
        return None


def _note(notification: Notification, detail: str) -> None:
    """A history row that changes no status (why a channel was skipped), in the caller's transaction."""
    db.session.add(NotificationEvent(notification_id=notification.id, status=NotificationStatus.SENDING, detail=detail))


def _deferred_by_rate_limit(notification: Notification, template: Template) -> bool:
    """Per-recipient SMS limit for reminders and notices (shared by all workers), counted in the caller's
    transaction. Over the limit, the message goes back to the outbox until the window ends. A result, a
    code or a same-day change is never held (``MessageKind``)."""
    if notification.urgent or not template.held:
        return False
    window = setting("NOTIFY_SMS_RATE_WINDOW_SECONDS")
    if counters.hit(f"rate:sms:{notification.phone}", window) <= setting("NOTIFY_SMS_PER_RECIPIENT"):
        return False
    counters.hit(f"rate:sms:{notification.phone}", window, amount=-1)  # it was not sent after all
    limited_until = counters.window_end(window)
    transition(
        notification.id,
        NotificationStatus.CREATED,
        f"rate limited: deferred to {limited_until.isoformat()}",
        deliver_after=limited_until,
        attempts=Notification.attempts - 1,
    )
    return True


# --- SMS ------------------------------------------------------------------------------------------


def outgoing_sms(notification: Notification, template: Template, params: dict, text: str) -> OutgoingSms:
    """What every SMS adapter needs: the text, the template and its parameters, our reference."""
    since = notification.updated_at or notification.created_at
    return OutgoingSms(notification.phone, text, notification.id, template.code, params, since)


def _send_sms(notification: Notification, message: OutgoingSms) -> str:
    """Send by SMS (unless a gateway already has it) and record the result. Raises ``RetryLater``."""
    attempt = attempt_sms(notification, message)
    if not isinstance(attempt, SmsAccepted):
        return attempt
    with transaction():
        if attempt.counts_for_health:
            record_outcome(attempt.result.provider, ok=True)
        return _record_sent(notification, Channel.SMS, attempt.result)


@dataclass(frozen=True)
class SmsAccepted:
    """A gateway has the message (``counts_for_health``: we sent it now, rather than found it there)."""

    result: SendResult
    counts_for_health: bool


def attempt_sms(notification: Notification, message: OutgoingSms, gateway: Any = None) -> SmsAccepted | str:
    """Hand a claimed message to an SMS gateway (``gateway``, or the healthiest now), unless one already
    has it; the success is not recorded (the caller records it, alone or with a batch). A failure is
    recorded here: a rejection or the last attempt returns ``permanent_failure``; a temporary one raises
    ``RetryLater``."""
    already_there = _already_at_a_gateway(notification, message)
    if already_there is not None:
        return SmsAccepted(already_there, counts_for_health=False)
    gateway = gateway or get_sms_gateway()
    try:
        return SmsAccepted(gateway.send(message), counts_for_health=True)
    except ChannelError as exc:
        # Kept although the task then fails: the gateway's error count and the attempt's outcome.
        with transaction():
            if exc.provider_fault:
                record_outcome(gateway.name, ok=False)
            gave_up = _record_failed_attempt(notification, gateway.name, exc)
        if gave_up:
            return NotificationStatus.PERMANENT_FAILURE
        raise RetryLater(notification.attempts) from exc


def _already_at_a_gateway(notification: Notification, message: OutgoingSms) -> SendResult | None:
    """After a timeout the gateway may have accepted the message anyway: ask before sending again."""
    if notification.attempts < 2 or "timeout" not in (notification.last_error or ""):
        return None
    for gateway in all_sms_gateways():
        try:
            reference = gateway.lookup(message)
        except ChannelError:
            continue
        if reference:
            return SendResult(gateway.name, reference, sms_segments(message.text))
    return None


def _record_failed_attempt(notification: Notification, provider: str, exc: ChannelError) -> bool:
    """A rejection or the last allowed attempt fails the message for good (True); otherwise it goes
    back to ``queued`` for the task's retry (False). In the caller's transaction."""
    if exc.permanent:
        _finish(notification, NotificationStatus.PERMANENT_FAILURE, exc.reason, provider=provider, channel=Channel.SMS)
        return True
    if notification.attempts >= setting("NOTIFY_MAX_ATTEMPTS"):
        reason = f"gave up after {notification.attempts} attempts; last: {exc.reason}"
        _finish(notification, NotificationStatus.PERMANENT_FAILURE, reason, provider=provider, channel=Channel.SMS)
        return True
    transition(
        notification.id,
        NotificationStatus.QUEUED,
        f"attempt {notification.attempts} failed, retrying: {exc.reason}",
        last_error=exc.reason,
    )
    return False


# --- recording the result -------------------------------------------------------------------------


def _record_sent(notification: Notification, channel: Channel, result: SendResult) -> str:
    """Step 3: what the channel accepted (and a local adapter's sandbox row)."""
    values = {"channel": channel, "provider": result.provider, "provider_ref": result.provider_ref, "segments": result.segments}
    with transaction():
        relaxed_durability()
        transition(notification.id, NotificationStatus.SENT, f"{channel} via {result.provider}", sent_at=utcnow(), **values)
        if result.delivered:
            transition(notification.id, NotificationStatus.DELIVERED, f"{result.provider}: accepted by the recipient's channel")
    return NotificationStatus.DELIVERED if result.delivered else NotificationStatus.SENT


def relaxed_durability() -> None:
    """PostgreSQL: this transaction's commit need not wait for the WAL flush. Safe for the result of a
    send: if a database crash lost it, the row is still ``sending`` and the sweep settles it by asking
    the gateway (never by sending again). Claims stay fully durable."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _finish(notification: Notification, status: NotificationStatus, detail: str, **values: Any) -> None:
    """Move to a final status."""
    with transaction():
        if status in FAILED_STATUSES:
            values["last_error"] = detail
        transition(notification.id, status, detail, **values)
