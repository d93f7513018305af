"""Sending notifications in batches, as GOV.UK Notify does: claim many with one statement, send each,
record the results together.

``notifications.send_batch`` carries the ids that one committed transaction (or one sweep) published,
at most ``NOTIFY_BATCH_SIZE`` of them; the task fills the batch up to that size with the oldest other
messages queued for a first try (``_waiting``), so messages written one per request go out in batches
too when they arrive faster than they are sent. Whatever the batch's size, the database sees:

1. the claim — one ``UPDATE … RETURNING`` moves every due row to ``sending`` and counts the attempt, one
   ``INSERT`` writes their history rows, one ``SELECT`` reads them and one their recipients'
   preferences — committed (durably) before any gateway is called, exactly as for one message;
2. the sends, one by one, through the same choice of channel as ``send()``;
3. the results — every SMS a gateway accepted recorded with one ``UPDATE`` (per-row provider references
   by ``CASE``), one more for those a local adapter reports delivered, one ``INSERT`` of history rows —
   in one transaction with relaxed durability (``delivery.relaxed_durability``).

Anything off that plain path — WeChat, a gateway failure, a deferral by the per-phone cap, a missing
template, an expired message — goes through the one-message code of ``delivery.py`` for that message
alone. A temporary failure is returned in ``BatchOutcome.retry`` and the task retries that one message
(``notifications.send``) with backoff: one bad number never holds or repeats the batch.

A worker that dies mid-batch leaves its claimed rows ``sending``; the sweep settles each by asking the
gateways whether they got it, as for one message, so nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select

from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from mobile_api.transactions import in_transaction_block, transaction
from notifications.delivery import (
    Prepared,
    RetryLater,
    SmsAccepted,
    attempt_sms,
    outgoing_sms,
    prepare_claimed,
    relaxed_durability,
    send_claimed,
)
from notifications.inbox import preferences_of
from notifications.models import Channel, Notification, NotificationStatus
from notifications.providers import get_sms_gateway, record_outcome
from notifications.transitions import transition_many


@dataclass
class BatchOutcome:
    """Each id's resulting status, and the ids to retry alone (with their attempt counts)."""

    statuses: dict[str, str] = field(default_factory=dict)
    retry: dict[str, int] = field(default_factory=dict)


def send_batch(notification_ids: Sequence[str], top_up: int = 0) -> BatchOutcome:
    """Send every due message among ``notification_ids`` that nobody else is sending, and up to
    ``top_up`` more of the oldest queued ones (see ``_waiting``)."""
    if in_transaction_block():
        raise RuntimeError("send_batch() commits its claim before calling a gateway: call it outside a transaction() block")
    outcome = BatchOutcome()
    ready: list[tuple[Notification, Prepared]] = []
    now = utcnow()
    with transaction():  # step 1, the claim
        for notification, prepared in _claim(notification_ids, top_up, now):
            if isinstance(prepared, str):
                outcome.statuses[notification.id] = prepared
            else:
                ready.append((notification, prepared))
    accepted: list[tuple[Notification, SmsAccepted]] = []
    gateway = None  # chosen by health once, and again after each failure (failover within the batch)
    for notification, prepared in ready:  # step 2, the sends
        try:
            if prepared.sms_first:
                gateway = gateway or get_sms_gateway()
                text = prepared.template.render(prepared.params)
                attempt = attempt_sms(notification, outgoing_sms(notification, prepared.template, prepared.params, text), gateway)
                if isinstance(attempt, SmsAccepted):
                    accepted.append((notification, attempt))
                else:
                    outcome.statuses[notification.id], gateway = attempt, None
            else:
                outcome.statuses[notification.id] = send_claimed(notification, prepared)
        except RetryLater as exc:
            outcome.retry[notification.id], gateway = exc.attempts, None
    outcome.statuses.update(_record_accepted_sms(accepted))  # step 3, the results
    return outcome


def _claim(notification_ids: Sequence[str], top_up: int, now: datetime) -> list[tuple[Notification, Prepared | str]]:
    due = or_(Notification.deliver_after.is_(None), Notification.deliver_after <= now + timedelta(seconds=1))
    wanted = set(notification_ids)
    if top_up > 0:
        wanted |= _waiting(top_up, due, exclude=wanted)
    claimed = transition_many(wanted, NotificationStatus.SENDING, where=due, attempts=Notification.attempts + 1)
    if not claimed:
        return []
    rows = db.session.scalars(
        select(Notification).where(Notification.id.in_(claimed)).order_by(Notification.created_at).execution_options(populate_existing=True)
    ).all()
    preferences = preferences_of({row.account_id for row in rows if row.account_id})
    claimed_rows = [(row, prepare_claimed(row, now, preferences.get(row.account_id))) for row in rows]
    for row in rows:  # kept as claimed: not expired (and read again one by one) when the claim commits
        db.session.expunge(row)
    return claimed_rows


def _waiting(limit: int, due: Any, exclude: set[str]) -> set[str]:
    """The oldest messages queued for a first try, whose own tasks are still on their way.

    When each request writes one message (a booking's confirmation), each task carries one id; under
    load the messages of many tasks wait in the broker at once, and the first task to run takes them all
    as one batch — the tasks that follow find theirs taken and cost one statement. Only never-tried,
    non-urgent, due rows: a retry keeps its backoff, a sign-in code its own queue. Rows other workers are
    claiming are skipped on PostgreSQL (``SKIP LOCKED``); the claim's conditional UPDATE decides anyway.
    """
    statement = (
        select(Notification.id)
        .where(
            Notification.status == NotificationStatus.QUEUED,
            Notification.urgent.is_(False),
            Notification.attempts == 0,
            due,
            Notification.id.not_in(list(exclude)),
        )
        .order_by(Notification.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return set(db.session.scalars(statement))


def _record_accepted_sms(accepted: list[tuple[Notification, SmsAccepted]]) -> dict[str, str]:
    """Record together what SMS gateways accepted: sent (and delivered, where the adapter says so)."""
    if not accepted:
        return {}
    results = {notification.id: attempt.result for notification, attempt in accepted}
    per_row = {
        "provider": case({nid: result.provider for nid, result in results.items()}, value=Notification.id),
        "provider_ref": case({nid: result.provider_ref for nid, result in results.items()}, value=Notification.id),
        "segments": case({nid: result.segments for nid, result in results.items()}, value=Notification.id),
    }
    with transaction():
        relaxed_durability()
        for provider, count in Counter(a.result.provider for _, a in accepted if a.counts_for_health).items():
            record_outcome(provider, ok=True, count=count)
        details = {nid: f"{Channel.SMS} via {result.provider}" for nid, result in results.items()}
        sent = transition_many(list(results), NotificationStatus.SENT, details, channel=Channel.SMS, sent_at=utcnow(), **per_row)
        delivered = [nid for nid in sent if results[nid].delivered]
        accepted_by = {nid: f"{results[nid].provider}: accepted by the recipient's channel" for nid in delivered}
        delivered = transition_many(delivered, NotificationStatus.DELIVERED, accepted_by)
    statuses = dict.fromkeys(sent, NotificationStatus.SENT)
    statuses.update(dict.fromkeys(delivered, NotificationStatus.DELIVERED))
    return statuses
