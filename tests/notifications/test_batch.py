"""Sending in batches (notifications/batch.py): one claim and one result write per batch, whatever its
size; each message still reaches a gateway once; failures fall back to the one-message path."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from mobile_api.extensions import db
from notifications import service
from notifications.models import Notification, NotificationEvent
from tests.notifications.test_channels_http import _history, _notify_sms, _row
from tests.support import counted_queries, unique_phone


def _notify_many(count: int, template: str = "notifications.sms_notice") -> list[str]:
    """``count`` messages written by one transaction, as a bulk notice would be."""
    ids = [service.notify(unique_phone(), template, {"content": f"批量通知{n}"}, dedupe_key=uuid.uuid4().hex) for n in range(count)]
    db.session.commit()
    return ids


def test_a_batch_costs_the_same_statements_at_2_and_at_40_messages(app, app_context, http_channels):
    alpha, beta, _ = http_channels
    statements = {}
    for size in (2, 40):
        ids = _notify_many(size)
        with counted_queries(app) as seen:
            outcome = service.send_batch(ids)
        statements[size] = len(seen)
        assert outcome.statuses == dict.fromkeys(ids, "sent") and not outcome.retry
        for notification_id in ids:
            row = _row(notification_id)
            assert (row.status, row.channel, row.provider, row.segments, row.attempts) == ("sent", "sms", "alpha", 1, 1)
            assert row.provider_ref == alpha.accepted[notification_id]["message_id"]  # each row its own reference
            assert _history(notification_id) == ["created", "queued", "sending", "sent"]
    assert statements[2] == statements[40], statements
    # Claim: UPDATE, history, SELECT. Choosing between the two gateways by health: 4 counter reads, once
    # per batch (without Redis). Results: the health count, UPDATE, history (+ SET LOCAL on PostgreSQL).
    assert statements[40] <= 11, statements
    assert not alpha.sent_twice() and sum(alpha.posts.values()) == 42 and not beta.posts


def test_a_replayed_batch_sends_nothing_again(app, app_context, http_channels):
    alpha, _, _ = http_channels
    ids = _notify_many(5)
    assert set(service.send_batch(ids).statuses.values()) == {"sent"}
    again = service.send_batch(ids + ids)  # redelivered by the broker, and ids repeated
    assert again.statuses == {} and not again.retry
    assert all(alpha.posts[notification_id] == 1 for notification_id in ids)
    events = db.session.scalar(select(func.count()).select_from(NotificationEvent).where(NotificationEvent.notification_id.in_(ids)))
    assert events == 5 * 4


def test_failures_in_a_batch_go_back_alone_and_the_rest_is_recorded(app, app_context, http_channels):
    alpha, beta, _ = http_channels
    alpha.mode = "error"  # alpha fails until its error rate sends the rest to beta (failover)
    ids = _notify_many(8)
    outcome = service.send_batch(ids)
    assert outcome.retry and set(outcome.retry.values()) == {1}
    assert set(outcome.statuses) | set(outcome.retry) == set(ids)
    assert set(outcome.statuses.values()) == {"sent"}
    for notification_id in outcome.retry:
        row = _row(notification_id)
        assert row.status == "queued" and row.last_error
    for notification_id in outcome.statuses:
        assert _row(notification_id).provider == "beta"
    for notification_id in outcome.retry:  # what the task does with them: that message alone, later
        assert service.send(notification_id) == "sent" and _row(notification_id).provider == "beta"
    assert all(beta.posts[notification_id] == 1 for notification_id in ids)


def test_a_rejected_number_fails_alone(app, app_context, http_channels):
    alpha, _, _ = http_channels
    alpha.mode = "reject"
    ids = _notify_many(3)
    outcome = service.send_batch(ids)
    assert outcome.statuses == dict.fromkeys(ids, "permanent_failure") and not outcome.retry
    assert all(_row(notification_id).last_error for notification_id in ids)


def test_a_batch_mixes_channels_and_skips_what_is_not_due(app, app_context, http_channels, make_citizen):
    """A WeChat-bound citizen without a grant, a message already sent and one not yet due, in one batch."""
    from datetime import timedelta

    from sqlalchemy import update

    from auth.models import Account
    from mobile_api.timeutil import utcnow

    alpha, _, _ = http_channels
    citizen = make_citizen(wechat=True)
    account = db.session.get(Account, citizen["id"])
    to_citizen = service.notify(account, "notifications.service_notice", {"content": "窗口调整"}, dedupe_key=uuid.uuid4().hex)
    db.session.commit()
    already = _notify_sms()
    assert service.send(already) == "sent"
    later = _notify_sms()
    db.session.execute(update(Notification).where(Notification.id == later).values(deliver_after=utcnow() + timedelta(hours=1)))
    db.session.commit()
    outcome = service.send_batch([to_citizen, already, later])
    assert outcome.statuses == {to_citizen: "sent"} and not outcome.retry
    assert _row(to_citizen).channel == "sms"  # no WeChat grant: SMS instead, through the one-message path
    assert "wechat: no subscription, SMS instead" in [
        event.detail for event in db.session.scalars(select(NotificationEvent).where(NotificationEvent.notification_id == to_citizen))
    ]
    assert _row(later).status == "queued" and alpha.posts[already] == 1 and not alpha.posts[later]


def test_a_task_takes_the_oldest_waiting_messages_with_its_own(app, app_context, http_channels):
    """One message per request, one task each: the first task to run sends those waiting too, never a
    retry before its backoff; the tasks that follow find theirs taken."""
    from sqlalchemy import update

    alpha, _, _ = http_channels
    ids = [_notify_sms(f"逐条通知{n}") for n in range(6)]  # one transaction each, as one per request
    retried = _notify_sms("重试中")
    db.session.execute(update(Notification).where(Notification.id == retried).values(attempts=1, last_error="timeout"))
    db.session.commit()
    waiting = db.session.scalar(
        select(func.count()).where(Notification.status == "queued", Notification.attempts == 0, Notification.urgent.is_(False))
    )
    outcome = service.send_batch([ids[-1]], top_up=waiting)
    assert set(ids) <= set(outcome.statuses) and retried not in outcome.statuses
    assert all(outcome.statuses[notification_id] == "sent" for notification_id in ids)
    for notification_id in ids[:-1]:  # their own tasks arrive later
        assert service.send_batch([notification_id], top_up=waiting).statuses.get(notification_id) is None
    assert all(alpha.posts[notification_id] == 1 for notification_id in ids) and not alpha.posts[retried]
    assert _row(retried).status == "queued"
