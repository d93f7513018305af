"""``/metrics`` scraped after a booking and a notification, with the values checked; who may scrape; and the
multiprocess mode under gunicorn (several web processes, one sum).

These tests live with the notifications tests because the session's Celery worker is paused here
(``paused_session_worker``): nothing consumes the broker or moves the outbox while a test compares two
scrapes, so the differences are exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mobile_api.extensions import db
from notifications import service
from notifications.models import Notification
from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots
from tests.notifications.test_channels_http import _post_receipt
from tests.support import unique_phone, wait_for

TOKEN = "metrics-scrape-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> dict[tuple, float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def scrape(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data[:300]
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def test_metrics_after_a_booking_and_a_notification(app, client, app_context, config_override, http_channels):
    config_override(METRICS_TOKEN=TOKEN)
    alpha, _beta, _wechat = http_channels
    hall = create_hall(windows=1)
    first, second = create_citizen(), create_citizen()
    slot = first_free_slots(client, hall["id"])[0]
    before = scrape(client)

    booked = client.post(
        "/api/v1/appointments", json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]}, headers=first["headers"]
    )
    assert booked.status_code == 201
    full = client.post(
        "/api/v1/appointments", json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]}, headers=second["headers"]
    )
    assert full.status_code == 409 and full.json["code"] == "slot_full"
    # A notification sent through a gateway and its delivery receipt.
    notification_id = service.notify(
        unique_phone(), "notifications.sms_notice", {"content": "指标测试"}, dedupe_key=f"m:{uuid.uuid4().hex}"
    )
    db.session.commit()
    assert service.send(notification_id) == "sent"
    provider_ref = db.session.get(Notification, notification_id).provider_ref
    receipt = json.dumps({"message_id": provider_ref, "status": "delivered"}).encode()
    assert _post_receipt(client, "alpha", receipt).json["applied"] is True
    after = scrape(client)

    def delta(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Requests per endpoint and status (the endpoint name, never the path).
    assert delta("flask_http_request_duration_seconds_count", method="POST", endpoint="appointments.create_appointment", status=201) == 1
    assert delta("flask_http_request_duration_seconds_count", method="POST", endpoint="appointments.create_appointment", status=409) == 1
    assert not any("/api/v1/halls/" in str(labels) for _name, labels in after)
    # The conflict, the receipt.
    assert delta("booking_conflicts_total", reason="slot_full") == 1
    assert delta("delivery_receipts_applied_total", channel="sms", provider="alpha", status="delivered") == 1
    # The booking's confirmation waits in the outbox (queued) and in the broker's notify queue: no worker runs.
    assert delta("notifications_outbox_pending", status="queued") == 1
    # Two tasks wait in the broker's notify queue: the confirmation's, and the SMS's (which this test sent
    # in-process; the published task would find it already sent).
    assert delta("celery_queue_messages", queue="notify") == 2
    assert value(after, "celery_broker_up") == 1
    assert value(after, "notifications_outbox_oldest_age_seconds", status="queued") >= 0
    assert delta("notifications_outbox_last_24h", status="delivered") == 1  # the SMS after its receipt
    assert delta("notifications_outbox_last_24h", status="queued") == 1


def test_metrics_are_not_public(app, client, config_override):
    config_override(METRICS_TOKEN=TOKEN)
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    config_override(METRICS_TOKEN=None)
    assert client.get("/metrics").status_code == 404  # no token configured: loopback only, and this client is 10.x
    loopback = app.test_client()
    loopback.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    assert loopback.get("/metrics").status_code == 200


def test_stuck_outbox_age_counts_from_the_end_of_a_deferral(app, client, app_context, config_override):
    """A row deferred until later is not 'stuck'; once its time has passed, its age counts from then."""
    from datetime import timedelta

    from sqlalchemy import update

    from mobile_api.timeutil import utcnow
    from mobile_api.transactions import transaction

    config_override(METRICS_TOKEN=TOKEN)
    with transaction():  # committed (and published) first; then made to look deferred since long ago
        notification_id = service.notify(
            unique_phone(), "notifications.sms_notice", {"content": "延后"}, dedupe_key=f"m:{uuid.uuid4().hex}"
        )
    with transaction():
        db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(status="created", created_at=utcnow() - timedelta(hours=10), deliver_after=utcnow() + timedelta(hours=1))
        )
    baseline = value(scrape(client), "notifications_outbox_oldest_age_seconds", status="created")
    with transaction():
        db.session.execute(
            update(Notification).where(Notification.id == notification_id).values(deliver_after=utcnow() - timedelta(hours=5))
        )
    aged = value(scrape(client), "notifications_outbox_oldest_age_seconds", status="created")
    assert aged >= 5 * 3600 - 5 and aged < 10 * 3600
    assert baseline < 5 * 3600 - 5 or baseline >= aged  # the deferred row did not count while deferred
    with transaction():  # done: let it go so later scrapes of other tests are not disturbed
        db.session.execute(update(Notification).where(Notification.id == notification_id).values(status="cancelled", deliver_after=None))


@pytest.mark.slow
def test_gunicorn_workers_add_up_in_multiprocess_mode(app):
    """Two gunicorn workers, PROMETHEUS_MULTIPROC_DIR as scripts/run.sh sets it: every scrape, whichever
    worker answers it, reports the requests both workers served."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    multiproc = tempfile.mkdtemp(prefix="prom-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiproc, "METRICS_TOKEN": TOKEN, "LOAD_DEMO_DATA": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=60, what="gunicorn up")
        time.sleep(1)  # probes that timed out while a worker booted are answered by now
        baseline = _healthz_count(base)
        served = set()
        for _ in range(30):  # a new connection each time: the two workers share them
            served.add(requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5).status_code)
        assert served == {200}
        counts = [_healthz_count(base) for _ in range(6)]
        assert counts == [baseline + 30] * 6, (baseline, counts)
        pids = {name.split("_")[-1].removesuffix(".db") for name in os.listdir(multiproc)}
        assert len(pids) >= 2, pids  # both workers wrote their own file
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _healthz_count(base: str) -> float:
    text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"}, timeout=10).text
    return value(parse(text), "flask_http_request_duration_seconds_count", method="GET", endpoint="health.healthz", status=200)


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=1).status_code == 200
    except requests.RequestException:
        return False
