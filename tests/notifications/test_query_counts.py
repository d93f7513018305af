"""Statements of one notification end to end — counts, not timings, so a regression fails CI.

Web side: ``notify()`` in the caller's transaction (outbox row, inbox copy, history) and the publish
after commit (marked queued). Worker side: ``send()`` — the claim committed before the gateway call,
the result after it (README: each message is two worker commits by design; see the benchmark notes).
"""

from __future__ import annotations

import uuid

from mobile_api.extensions import db
from notifications import service
from tests.appointments.conftest import create_citizen
from tests.support import counted_queries

NOTIFY_CEILING = 6  # outbox row, inbox copy, history; after commit: marked queued (two statements) and its history
SEND_CEILING = 11  # claim with history, preferences, rate-limit count; result with history (+ SET LOCAL synchronous_commit on PostgreSQL)


def test_one_notification_end_to_end_is_a_bounded_number_of_statements(app, app_context):
    from auth.models import Account

    account = db.session.get(Account, create_citizen()["id"])
    with counted_queries(app) as web:
        notification_id = service.notify(account, "notifications.sms_notice", {"content": "您的证照已寄出"}, dedupe_key=uuid.uuid4().hex)
        db.session.commit()
    with counted_queries(app) as worker:
        assert service.send(notification_id) == "delivered"
    assert len(web) <= NOTIFY_CEILING, web
    assert len(worker) <= SEND_CEILING, worker
