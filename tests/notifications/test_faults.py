"""Fault tests with real Celery workers, a real broker and local gateways over HTTP:
a worker killed with SIGKILL mid-batch, a broker that is down while requests commit, and gateways
that answer 500s and time out. Nothing is lost and nothing reaches a gateway twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mobile_api.extensions import db
from notifications import service
from notifications.models import FINAL_STATUSES, Notification, NotificationEvent
from tests.support import unique_phone, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture()
def gateways(app, http_channels, channel_worker, live_server):
    """The fakes, sending signed delivery receipts back to the app over real HTTP."""
    alpha, beta, wechat = http_channels
    for gateway in (alpha, beta):
        gateway.send_receipts_to(live_server, app.config["SMS_WEBHOOK_SECRET"])
    yield alpha, beta, wechat
    for gateway in (alpha, beta):
        gateway.send_receipts_to(None)


def _notify_many(app, count: int, content: str = "您预约的业务明天办理") -> list[str]:
    with app.app_context():
        ids = [
            service.notify(unique_phone(), "notifications.sms_notice", {"content": content}, dedupe_key=f"fault:{uuid.uuid4().hex}")
            for _ in range(count)
        ]
        db.session.commit()  # publishes every row to the broker
        db.session.remove()
    return ids


def _statuses(app, ids: list[str]) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(
            select(Notification.status, func.count()).where(Notification.id.in_(ids)).group_by(Notification.status)
        ).all()
        db.session.remove()
    return dict(rows)


def _all_final_sweeping(app, ids: list[str], timeout: float, stuck_after: float) -> dict[str, int]:
    """Wait for every message to be final, running the sweep job as beat would (but more often)."""

    def final() -> dict[str, int] | None:
        with app.app_context():
            service.sweep_stuck(timedelta(seconds=stuck_after))
            db.session.remove()
        statuses = _statuses(app, ids)
        return statuses if set(statuses) <= set(FINAL_STATUSES) else None

    return wait_for(final, timeout=timeout, interval=1.0, what=f"{len(ids)} notifications final: {_statuses(app, ids)}")


def test_kill_9_worker_mid_batch_all_final_none_sent_twice(app, gateways, channel_worker):
    alpha, beta, _ = gateways
    ids = _notify_many(app, 500)
    wait_for(lambda: sum(alpha.posts[i] for i in ids) >= 120, timeout=120, what="120 messages at the gateway")
    channel_worker.stop(sig=9)  # SIGKILL the whole worker (main process and pool children)
    in_flight = _statuses(app, ids)
    assert in_flight.get("delivered", 0) < 500, in_flight

    channel_worker.start()
    # Rows the dead worker had prefetched or was sending are rescued by the sweep once they look stuck.
    statuses = _all_final_sweeping(app, ids, timeout=180, stuck_after=15)

    assert statuses == {"delivered": 500}
    assert sorted(set(alpha.accepted) & set(ids)) == sorted(ids)
    assert [i for i in ids if alpha.posts[i] != 1] == []  # none sent twice to the gateway
    assert not any(beta.posts[i] for i in ids)


def test_broker_down_while_requests_commit_then_everything_is_sent(app, gateways, channel_worker, tmp_path):
    alpha, _, _ = gateways
    dead_broker = (
        "redis://127.0.0.1:1/0" if app.config["CELERY_BROKER_URL"].startswith("redis") else "sqla+sqlite:////nonexistent/broker.sqlite"
    )
    # A web process whose broker is unreachable serves sign-in code requests and domain requests.
    script = tmp_path / "requests_without_broker.py"
    script.write_text(
        "import json, uuid, sys\n"
        "from mobile_api import create_app\n"
        "from mobile_api.extensions import db\n"
        "from notifications import service\n"
        "from tests.support import unique_phone\n"
        "app = create_app({'TESTING': True, 'RATELIMIT_ENABLED': False})\n"
        "client = app.test_client()\n"
        "phones = [unique_phone() for _ in range(5)]\n"
        "codes = [client.post('/api/v1/auth/sms-codes', json={'phone': p}).status_code for p in phones]\n"
        "ids = []\n"
        "with app.app_context():\n"
        "    for _ in range(20):\n"
        "        ids.append(service.notify(\n"
        "            unique_phone(), 'notifications.sms_notice', {'content': '办件进度更新'}, dedupe_key=uuid.uuid4().hex\n"
        "        ))\n"
        "        db.session.commit()\n"
        "print(json.dumps({'codes': codes, 'phones': phones, 'ids': ids}))\n"
    )
    env = {**os.environ, "CELERY_BROKER_URL": dead_broker, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [202] * 5  # the requests succeeded

    with app.app_context():
        code_ids = db.session.scalars(select(Notification.id).where(Notification.phone.in_(result["phones"]))).all()
        db.session.remove()
    ids = result["ids"] + list(code_ids)
    assert len(ids) == 25 and _statuses(app, ids) == {"created": 25}  # nothing was published

    with app.app_context():  # the beat's sweep, with the real broker
        assert service.sweep_stuck(timedelta(seconds=0)) >= 25
        db.session.remove()
    statuses = _all_final_sweeping(app, ids, timeout=120, stuck_after=30)
    assert statuses == {"delivered": 25}
    assert [i for i in ids if alpha.posts[i] != 1] == []
    sign_in_texts = [alpha.accepted[i]["content"] for i in code_ids]
    assert all("验证码是" in text for text in sign_in_texts)


def test_gateway_500s_and_timeouts_retry_with_backoff_fail_over_then_fail_for_good(app, gateways, channel_worker):
    alpha, beta, _ = gateways
    alpha.mode = "error"
    ids = _notify_many(app, 6)
    assert _all_final_sweeping(app, ids, timeout=90, stuck_after=30) == {"delivered": 6}
    assert all(beta.posts[i] == 1 for i in ids)  # failed over to beta
    with app.app_context():
        retries = db.session.scalars(
            select(NotificationEvent.detail).where(NotificationEvent.notification_id.in_(ids), NotificationEvent.status == "queued")
        ).all()
        db.session.remove()
    assert any("alpha: gateway_error_500" in (detail or "") for detail in retries)

    # Now both fail: alpha hangs past the client timeout, beta answers 500.
    alpha.mode, alpha.delay, beta.mode = "hang", 1.0, "error"
    failing = _notify_many(app, 2)
    # No sweep here: the retries are the task's own (a lost retry would leave the rows queued).
    assert wait_for(lambda: _statuses(app, failing) == {"permanent_failure": 2}, timeout=60, what="permanent failures")
    with app.app_context():
        rows = db.session.scalars(select(Notification).where(Notification.id.in_(failing))).all()
        assert all(row.attempts == 5 and row.last_error.startswith("gave up after 5 attempts; last: ") for row in rows)
        assert all("gateway_" in row.last_error for row in rows)
        db.session.remove()


def test_sign_in_codes_never_wait_behind_a_backlog_of_reminders(app, gateways, channel_worker):
    from tests.notifications.conftest import ChannelWorker

    alpha, _, _ = gateways
    channel_worker.stop(sig=9)
    urgent_worker = ChannelWorker(channel_worker.settings)
    urgent_worker.queues = "urgent"  # as scripts/run.sh runs it: its own worker
    urgent_worker.start()
    try:
        backlog = _notify_many(app, 100)
        phone = unique_phone()
        with app.app_context():
            code_id = service.notify(phone, "auth.sms_code", {"code": "246810", "minutes": 5}, dedupe_key=f"fault:{uuid.uuid4().hex}")
            db.session.commit()
            db.session.remove()
        wait_for(lambda: _statuses(app, [code_id]) == {"delivered": 1}, timeout=60, what="the sign-in code delivered")
        assert "验证码是246810" in alpha.accepted[code_id]["content"]
        assert _statuses(app, backlog) == {"queued": 100}  # the backlog did not hold the code up
    finally:
        urgent_worker.stop(sig=9)
        channel_worker.start()
    assert _all_final_sweeping(app, backlog, timeout=120, stuck_after=60) == {"delivered": 100}
