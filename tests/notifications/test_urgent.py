"""Urgent messages (sign-in codes) never wait for the minute-long sweep."""

from __future__ import annotations

import uuid

from mobile_api.extensions import db
from notifications import service
from notifications.models import Notification
from notifications.outbox import PENDING_KEY, SWEEP_URGENT_TASK
from tests.support import unique_phone, wait_for


def test_the_urgent_sweep_runs_every_few_seconds_on_the_urgent_queue(app):
    job = next(job for job in app.extensions["beat_schedule"].values() if job["task"] == SWEEP_URGENT_TASK)
    assert job["schedule"] <= 5 and job["options"]["queue"] == "urgent"
    assert app.extensions["task_routes"][SWEEP_URGENT_TASK]["queue"] == "urgent"


def test_an_urgent_row_the_broker_never_got_is_published_by_the_urgent_sweep(app_context, config_override, http_channels, channel_worker):
    config_override(NOTIFY_URGENT_STUCK_SECONDS=0)
    notification_id = service.notify(
        unique_phone(), "auth.sms_code", {"code": "246810", "minutes": 5}, dedupe_key=f"test:{uuid.uuid4().hex}"
    )
    db.session.info.pop(PENDING_KEY)  # as when the publish after commit failed: the row stays ``created``
    db.session.commit()
    assert db.session.get(Notification, notification_id).status == "created"
    assert service.sweep_urgent() >= 1

    def sent():  # by the module's worker, through the local fake gateways
        status = db.session.get(Notification, notification_id, populate_existing=True).status
        db.session.rollback()
        return status in ("sent", "delivered")

    wait_for(sent, timeout=30, what="the swept sign-in code sent")
