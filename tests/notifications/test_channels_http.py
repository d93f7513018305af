"""The HTTP adapters against local servers speaking the SMS gateway protocol and WeChat's API:
failover by error rate, retries, permanent failures, receipts, the shared WeChat access token."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from mobile_api.extensions import db
from notifications import service
from notifications.models import Notification, NotificationEvent, WechatSubscription
from notifications.providers import error_rate, sms_gateways_by_health
from notifications.wechat import access_token, cached_token_expiry, get_wechat
from tests.notifications.conftest import reset_channel_state
from tests.support import unique_phone


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def _row(notification_id: str) -> Notification:
    return db.session.get(Notification, notification_id, populate_existing=True)


def _history(notification_id: str) -> list[str]:
    return db.session.scalars(
        select(NotificationEvent.status).where(NotificationEvent.notification_id == notification_id).order_by(NotificationEvent.id)
    ).all()


def _notify_sms(content: str = "您的申请已受理") -> str:
    notification_id = service.notify(unique_phone(), "notifications.sms_notice", {"content": content}, dedupe_key=_key())
    db.session.commit()
    return notification_id


def _send_until_final(notification_id: str, limit: int = 10) -> list[str]:
    """Drive retries in-process the way the task does (without sleeping through the backoff)."""
    outcomes = []
    for _ in range(limit):
        try:
            outcomes.append(service.send(notification_id))
            return outcomes
        except service.RetryLater:
            outcomes.append("retry")
    return outcomes


def test_http_gateway_send_and_signed_receipts(app, app_context, http_channels, client):
    alpha, beta, _ = http_channels
    notification_id = _notify_sms()
    assert service.send(notification_id) == "sent"
    row = _row(notification_id)
    assert (row.provider, row.channel, row.segments) == ("alpha", "sms", 1)
    assert alpha.posts[notification_id] == 1 and not beta.posts

    body = json.dumps({"message_id": row.provider_ref, "status": "delivered"}).encode()
    assert _post_receipt(client, "alpha", body, secret="wrong").status_code == 401
    assert _post_receipt(client, "alpha", body, timestamp=int(time.time()) - 3600).json["code"] == "signature_expired"
    unsigned = client.post("/api/v1/webhooks/sms/alpha", data=body, content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.json["code"] == "signature_missing"
    assert _post_receipt(client, "nobody", body).status_code == 404
    unknown = json.dumps({"message_id": "no-such-id", "status": "delivered"}).encode()
    assert _post_receipt(client, "alpha", unknown).json["code"] == "notification_not_found"
    malformed = _post_receipt(client, "alpha", json.dumps({"message_id": row.provider_ref, "status": "weird"}).encode())
    assert malformed.status_code == 422 and "status" in malformed.json["errors"]
    not_json = _post_receipt(client, "alpha", b"{not json")
    assert not_json.status_code == 400 and not_json.json["code"] == "malformed_json"

    applied = _post_receipt(client, "alpha", body)
    assert applied.status_code == 200 and applied.json == {"id": notification_id, "status": "delivered", "applied": True}
    # Repeated and late receipts are ignored: a final status never moves back.
    assert _post_receipt(client, "alpha", body).json["applied"] is False
    late_failure = json.dumps({"message_id": row.provider_ref, "status": "failed", "error_code": "UNDELIV"}).encode()
    assert _post_receipt(client, "alpha", late_failure).json == {"id": notification_id, "status": "delivered", "applied": False}
    assert _row(notification_id).status == "delivered"


def test_failed_receipt_keeps_the_reason(app_context, http_channels, client):
    notification_id = _notify_sms()
    service.send(notification_id)
    body = json.dumps({"message_id": _row(notification_id).provider_ref, "status": "failed", "error_code": "MK:0001"}).encode()
    assert _post_receipt(client, "alpha", body).json["status"] == "permanent_failure"
    assert "MK:0001" in _row(notification_id).last_error


def _post_receipt(client, provider: str, body: bytes, *, secret: str | None = None, timestamp: int | None = None):
    from flask import current_app

    timestamp = int(time.time()) if timestamp is None else timestamp
    key = (secret or current_app.config["SMS_WEBHOOK_SECRET"]).encode()
    signature = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Sms-Timestamp": str(timestamp), "X-Sms-Signature": f"sha256={signature}"}
    return client.post(f"/api/v1/webhooks/sms/{provider}", data=body, headers=headers, content_type="application/json")


def test_gateway_errors_retry_then_fail_over_to_the_other_provider(app_context, http_channels):
    alpha, beta, _ = http_channels
    alpha.mode = "error"
    notification_id = _notify_sms()
    # Three 500s make alpha's recent error rate 100 % (≥ 3 attempts): the fourth attempt goes to beta.
    assert _send_until_final(notification_id) == ["retry", "retry", "retry", "sent"]
    row = _row(notification_id)
    assert (row.provider, row.attempts) == ("beta", 4)
    assert alpha.posts[notification_id] == 3 and beta.posts[notification_id] == 1
    assert error_rate("alpha") == (1.0, 3)
    assert [gateway.name for gateway in sms_gateways_by_health()] == ["beta", "alpha"]
    details = db.session.scalars(
        select(NotificationEvent.detail)
        .where(NotificationEvent.notification_id == notification_id, NotificationEvent.status == "queued")
        .order_by(NotificationEvent.id)
    ).all()
    assert details == [None] + [f"attempt {n} failed, retrying: alpha: gateway_error_500" for n in (1, 2, 3)]


def test_timeouts_and_errors_everywhere_end_in_permanent_failure_with_the_reason(app_context, http_channels):
    alpha, beta, _ = http_channels
    alpha.mode, alpha.delay = "hang", 1.0
    beta.mode = "error"
    notification_id = _notify_sms()
    outcomes = _send_until_final(notification_id)
    assert outcomes == ["retry"] * 4 + ["permanent_failure"]
    row = _row(notification_id)
    assert row.attempts == 5 and row.status == "permanent_failure"
    assert row.last_error.startswith("gave up after 5 attempts; last: beta: gateway_error_500")
    assert (alpha.posts[notification_id], beta.posts[notification_id]) == (3, 2)


def test_timed_out_message_that_reached_the_gateway_is_not_sent_again(app_context, http_channels):
    alpha, _, _ = http_channels
    alpha.mode, alpha.delay = "timeout", 1.0
    notification_id = _notify_sms()
    with pytest.raises(service.RetryLater):
        service.send(notification_id)
    time.sleep(alpha.delay)  # the gateway finishes accepting it after our timeout
    alpha.mode = "ok"
    assert service.send(notification_id) == "sent"
    row = _row(notification_id)
    assert alpha.posts[notification_id] == 1 and row.provider_ref == alpha.accepted[notification_id]["message_id"]


def test_rejected_number_is_a_permanent_failure_at_once(app_context, http_channels):
    alpha, _, _ = http_channels
    alpha.mode = "reject"
    notification_id = _notify_sms()
    assert service.send(notification_id) == "permanent_failure"
    assert "gateway_rejected_400" in _row(notification_id).last_error and _row(notification_id).attempts == 1


def test_wechat_subscribe_message_token_cached_shared_and_refreshed(app, app_context, http_channels, make_citizen):
    alpha, _, wechat = http_channels
    citizen = make_citizen(wechat=True)
    for _ in range(2):
        service.add_wechat_subscriptions(citizen["id"], ["notifications.service_notice"])
    ids = [service.notify(citizen["account"], "notifications.service_notice", {"content": f"第{n}条"}, dedupe_key=_key()) for n in range(3)]
    db.session.commit()
    assert service.send(ids[0]) == "delivered" and service.send(ids[1]) == "delivered"
    assert wechat.token_fetches == 1  # cached between sends
    assert [message["touser"] for message in wechat.sent] == [citizen["openid"]] * 2
    assert wechat.sent[0]["template_id"] == "service-notice" and wechat.sent[0]["data"] == {"content": {"value": "第0条"}}
    # The third: subscriptions used up → SMS instead.
    assert service.send(ids[2]) == "sent" and _row(ids[2]).channel == "sms" and alpha.posts[ids[2]] == 1
    assert 7200 - 300 - 5 <= cached_token_expiry() <= 7200 - 300  # refreshed 5 minutes before expiry

    # WeChat revoked the token (another server fetched one): refreshed once, and the message goes.
    service.add_wechat_subscriptions(citizen["id"], ["notifications.service_notice"])
    wechat.revoke_token()
    again = service.notify(citizen["account"], "notifications.service_notice", {"content": "再来"}, dedupe_key=_key())
    db.session.commit()
    assert service.send(again) == "delivered" and wechat.token_fetches == 2


def test_wechat_token_is_fetched_by_one_of_many_concurrent_senders_and_refreshed_before_expiry(app, http_channels):
    _, _, wechat = http_channels
    wechat.token_delay = 0.3  # slow token endpoint: concurrent callers must wait, not fetch again
    results: list[str] = []

    def fetch() -> None:
        with app.app_context():
            results.append(access_token(get_wechat()))
            db.session.remove()

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wechat.token_fetches == 1 and set(results) == {"token-1"}

    reset_channel_state(app)
    wechat.reset(expires_in=301)  # valid 301 s, refreshed 300 s early: cached for 1 s only
    with app.app_context():
        assert access_token(get_wechat()) == "token-1"
        time.sleep(1.1)
        assert access_token(get_wechat()) == "token-2"
        db.session.remove()


def test_user_who_refused_gets_sms_and_loses_the_subscription(app_context, http_channels, make_citizen):
    alpha, _, wechat = http_channels
    citizen = make_citizen(wechat=True)
    service.add_wechat_subscriptions(citizen["id"], ["notifications.service_notice"])
    wechat.refused.add(citizen["openid"])
    notification_id = service.notify(citizen["account"], "notifications.service_notice", {"content": "已拒收"}, dedupe_key=_key())
    db.session.commit()
    assert service.send(notification_id) == "sent"
    assert _row(notification_id).channel == "sms" and alpha.posts[notification_id] == 1
    remaining = db.session.scalar(select(WechatSubscription.remaining).where(WechatSubscription.account_id == citizen["id"]))
    assert remaining == 0


def test_concurrent_duplicate_tasks_send_once(app, http_channels):
    alpha, _, _ = http_channels
    with app.app_context():
        notification_id = _notify_sms("并发重复投递")
        db.session.remove()
    outcomes: list[str] = []

    def send() -> None:
        with app.app_context():
            outcomes.append(service.send(notification_id))
            db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert alpha.posts[notification_id] == 1
    # One task claimed it and sent it; each other one saw it claimed (``sending``) or already ``sent``.
    assert len(outcomes) == 6 and outcomes.count("sent") >= 1 and set(outcomes) <= {"sent", "sending"}
    with app.app_context():
        row = _row(notification_id)
        history = _history(notification_id)
        db.session.remove()
    assert (row.status, row.attempts) == ("sent", 1)
    assert history == ["created", "queued", "sending", "sent"]
