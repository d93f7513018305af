"""Staff sign-in and roles; WeChat mini program sign-in (local and HTTP adapters)."""

from __future__ import annotations

from auth.wechat import HttpWechatAuth
from mobile_api.errors import Problem
from tests.support import bearer, read_sms_code, sign_in, staff_token, unique_phone


def test_staff_sign_in_and_wrong_password(client, app):
    response = client.post("/api/v1/staff/auth/tokens", json={"username": "officer", "password": "wrong"})
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_credentials"
    response = client.post("/api/v1/staff/auth/tokens", json={"username": "nobody", "password": "wrong"})
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_credentials"
    response = client.post("/api/v1/staff/auth/tokens", json={"username": "officer", "password": app.config["DEMO_PASSWORD"]})
    assert response.status_code == 200
    staff = response.get_json()["staff"]
    assert staff["roles"] == ["officer"] and "password" not in response.get_data(as_text=True)


def test_every_demo_role_signs_in(client, app):
    for username in ("admin", "prereviewer", "clerk", "officer", "operator", "supervisor"):
        assert staff_token(client, username, app.config["DEMO_PASSWORD"])


def test_citizen_and_staff_tokens_do_not_cross(client, app, celery_worker):
    citizen = sign_in(client)
    response = client.get("/api/v1/staff/calendar/2026", headers=bearer(citizen["access_token"]))
    assert response.status_code == 403 and response.get_json()["code"] == "staff_only"
    officer = staff_token(client, "officer", app.config["DEMO_PASSWORD"])
    response = client.get("/api/v1/me", headers=bearer(officer))
    assert response.status_code == 403 and response.get_json()["code"] == "citizen_only"
    response = client.get("/api/v1/staff/calendar/2026", headers=bearer(officer))
    assert response.status_code == 403 and response.get_json()["code"] == "role_required"


def test_wechat_first_time_needs_phone_then_signs_in_directly(client, celery_worker):
    response = client.post("/api/v1/auth/wechat", json={"code": f"wx-{unique_phone()}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone_required"] is True and body["wechat_ticket"]
    phone = unique_phone()
    client.post("/api/v1/auth/sms-codes", json={"phone": phone})
    code = read_sms_code(client, phone)
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": code, "wechat_ticket": body["wechat_ticket"]})
    assert response.status_code == 200
    assert response.get_json()["account"]["wechat_bound"] is True


def test_wechat_bound_account_gets_tokens(client, celery_worker):
    wx_code = f"wx-{unique_phone()}"
    ticket = client.post("/api/v1/auth/wechat", json={"code": wx_code}).get_json()["wechat_ticket"]
    phone = unique_phone()
    client.post("/api/v1/auth/sms-codes", json={"phone": phone})
    client.post("/api/v1/auth/tokens", json={"phone": phone, "code": read_sms_code(client, phone), "wechat_ticket": ticket})
    response = client.post("/api/v1/auth/wechat", json={"code": wx_code})
    body = response.get_json()
    assert body["phone_required"] is False and body["access_token"]
    assert body["account"]["phone_masked"].endswith(phone[-4:])
    # A forged ticket is refused.
    response = client.post("/api/v1/auth/tokens", json={"phone": phone, "code": "123456", "wechat_ticket": ticket + "x"})
    assert response.status_code == 422 and response.get_json()["code"] == "wechat_ticket_invalid"


def test_wechat_bound_elsewhere_is_409_and_leaves_the_code_unspent(app, client, celery_worker):
    """The sign-in is one transaction: a refused WeChat binding undoes the new account and the spent code."""
    from sqlalchemy import func, select

    from auth.models import Account
    from mobile_api.extensions import db

    wx_code = f"wx-{unique_phone()}"
    ticket = client.post("/api/v1/auth/wechat", json={"code": wx_code}).get_json()["wechat_ticket"]
    first = unique_phone()
    client.post("/api/v1/auth/sms-codes", json={"phone": first})
    bound = client.post("/api/v1/auth/tokens", json={"phone": first, "code": read_sms_code(client, first), "wechat_ticket": ticket})
    assert bound.status_code == 200 and bound.get_json()["account"]["wechat_bound"] is True
    second = unique_phone()
    client.post("/api/v1/auth/sms-codes", json={"phone": second})
    code = read_sms_code(client, second)
    refused = client.post("/api/v1/auth/tokens", json={"phone": second, "code": code, "wechat_ticket": ticket})
    assert refused.status_code == 409 and refused.get_json()["code"] == "wechat_already_bound"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account).where(Account.phone == second)) == 0
    # The code was not spent by the refused attempt: it still signs in (without the WeChat).
    response = client.post("/api/v1/auth/tokens", json={"phone": second, "code": code})
    assert response.status_code == 200 and response.get_json()["account"]["wechat_bound"] is False


def test_wechat_invalid_code(client):
    response = client.post("/api/v1/auth/wechat", json={"code": "invalid-code"})
    assert response.status_code == 422 and response.get_json()["code"] == "wechat_code_invalid"


def test_http_wechat_adapter_speaks_jscode2session(httpserver):
    httpserver.expect_request(
        "/sns/jscode2session",
        query_string={"appid": "wxapp", "secret": "s3cret", "js_code": "good", "grant_type": "authorization_code"},
    ).respond_with_json({"openid": "oABC123", "session_key": "k"})
    httpserver.expect_request(
        "/sns/jscode2session", query_string={"appid": "wxapp", "secret": "s3cret", "js_code": "bad", "grant_type": "authorization_code"}
    ).respond_with_json({"errcode": 40029, "errmsg": "invalid code"})
    adapter = HttpWechatAuth(httpserver.url_for(""), "wxapp", "s3cret", timeout=2)
    assert adapter.code_to_openid("good") == "oABC123"
    try:
        adapter.code_to_openid("bad")
    except Problem as exc:
        assert exc.status == 422 and exc.code == "wechat_code_invalid"
    else:
        raise AssertionError("an invalid code must be refused")
