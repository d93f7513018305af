"""Abuse of the sign-in endpoints: each gets a clear 4xx and leaves nothing behind it should not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from auth.models import Account, SmsCode
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from notifications.models import Notification
from tests.support import read_sms_code, unique_phone


def _request_code(client, phone):
    return client.post("/api/v1/auth/sms-codes", json={"phone": phone})


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_phone_numbers_are_checked(client, app):
    for bad in ["12345678901", "1380013800", "010-12345678", "+44 7911 123456", "abc", "", None, 13800138000]:
        response = _request_code(client, bad)
        assert response.status_code == 422, bad
        assert response.get_json()["errors"]["phone"]
    # Formatting variants of a valid number are normalised to the same 11 digits.
    phone = unique_phone()
    assert _request_code(client, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}").status_code == 202
    assert _count(app, SmsCode, SmsCode.phone == phone) == 1


def test_wrong_codes_are_counted_and_the_code_dies_after_five(client, app, celery_worker):
    phone = unique_phone()
    assert _request_code(client, phone).status_code == 202
    code = read_sms_code(client, phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = []
    for _ in range(5):
        response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": wrong})
        assert response.status_code == 401
        lefts.append(response.get_json().get("attempts_left"))
    assert lefts[:4] == [4, 3, 2, 1]
    # The right code no longer works: it died with the fifth wrong try.
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code})
    assert response.status_code == 401 and response.get_json()["code"] == "sms_code_invalid"
    assert _count(app, Account, Account.phone == phone) == 0


def test_expired_code_is_refused(client, app, celery_worker):
    phone = unique_phone()
    _request_code(client, phone)
    code = read_sms_code(client, phone)
    with app.app_context():
        db.session.execute(update(SmsCode).where(SmsCode.phone == phone).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code})
    assert response.status_code == 401 and response.get_json()["code"] == "sms_code_expired"
    assert _count(app, Account, Account.phone == phone) == 0


def test_code_is_stored_hashed(client, app, celery_worker):
    phone = unique_phone()
    _request_code(client, phone)
    code = read_sms_code(client, phone)
    with app.app_context():
        row = db.session.get(SmsCode, phone)
        assert row.code_hash and code not in row.code_hash and len(row.code_hash) == 64


def test_resend_cooldown_answers_429_with_retry_after(client, app):
    phone = unique_phone()
    assert _request_code(client, phone).status_code == 202
    response = _request_code(client, phone)
    assert response.status_code == 429
    assert response.get_json()["code"] == "sms_code_cooldown"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert _count(app, Notification, Notification.phone == phone) == 1  # no second SMS queued


def test_daily_cap_per_phone(client, app):
    phone = unique_phone()
    cap = app.config["SMS_CODE_DAILY_PER_PHONE"]
    for _ in range(cap):
        assert _request_code(client, phone).status_code == 202
        with app.app_context():  # skip the 60 s cooldown without waiting for it
            db.session.execute(update(SmsCode).where(SmsCode.phone == phone).values(sent_at=utcnow() - timedelta(minutes=2)))
            db.session.commit()
    response = _request_code(client, phone)
    assert response.status_code == 429 and response.get_json()["code"] == "sms_code_daily_limit"
    assert int(response.headers["Retry-After"]) > 0
    assert _count(app, Notification, Notification.phone == phone) == cap


def test_flood_from_one_ip_is_capped(client, app):
    limit = int(app.config["SMS_CODE_DAILY_PER_IP"].split()[0])
    statuses = [_request_code(client, unique_phone()).status_code for _ in range(limit + 3)]
    assert statuses[:limit] == [202] * limit
    assert statuses[limit:] == [429, 429, 429]
    response = _request_code(client, unique_phone())
    assert response.mimetype == "application/problem+json" and "Retry-After" in response.headers


def test_concurrent_requests_for_one_phone_send_one_code(app):
    """Ten simultaneous requests for one phone: the cooldown is one conditional UPDATE, so one wins."""
    from concurrent.futures import ThreadPoolExecutor

    phone = unique_phone()

    def attempt(i):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.200.0.{i + 1}"
        return _request_code(client, phone).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(attempt, range(10)))
    assert statuses.count(202) == 1, statuses
    assert set(statuses) <= {202, 429}
    assert _count(app, Notification, Notification.phone == phone) == 1


def test_malformed_bodies_store_nothing(client, app):
    before = _count(app, SmsCode)
    cases = [
        dict(data="{", content_type="application/json"),
        dict(data="null", content_type="application/json"),
        dict(data='{"phone": {"$ne": 1}}', content_type="application/json"),
        dict(data="phone=13800138000", content_type="application/x-www-form-urlencoded"),
        dict(data="<xml/>", content_type="application/xml"),
        dict(data='{"phone":"' + "9" * 100_000 + '"}', content_type="application/json"),
    ]
    for kwargs in cases:
        response = client.post("/api/v1/auth/sms-codes", **kwargs)
        assert 400 <= response.status_code < 500, kwargs
        assert response.mimetype == "application/problem+json"
    for body in [{"phone": unique_phone(), "code": "12345"}, {"phone": unique_phone(), "code": "abcdef"}, {"phone": unique_phone()}]:
        assert client.post("/api/v1/auth/tokens", json=body).status_code == 422
    assert _count(app, SmsCode) == before


def test_code_for_a_phone_never_asked_is_refused(client, app):
    phone = unique_phone()
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": "123456"})
    assert response.status_code == 401
    assert _count(app, Account, Account.phone == phone) == 0


def test_forged_and_wrong_kind_tokens(client, app):
    from flask_jwt_extended import create_access_token

    with app.app_context():
        refresh_like = create_access_token(identity="c:nobody", additional_claims={"kind": "citizen", "fam": "x"})
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {refresh_like}"})
    assert response.status_code == 401 and response.get_json()["code"] == "account_not_found"
    # An access token is not a refresh token.
    response = client.post("/api/v1/auth/tokens/refresh", headers={"Authorization": f"Bearer {refresh_like}"})
    assert response.status_code == 401 and response.get_json()["code"] == "token_invalid"
    assert response.mimetype == "application/problem+json"
