"""The citizen's inbox, preferences and WeChat subscriptions; the staff endpoints."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mobile_api.extensions import db
from mobile_api.models import AuditEvent
from notifications import service
from notifications.models import Notification
from tests.support import bearer, staff_token, unique_phone


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def _deliver_notice(app, citizen: dict, content: str) -> str:
    with app.app_context():
        notification_id = service.notify(citizen["account"], "notifications.service_notice", {"content": content}, dedupe_key=_key())
        db.session.commit()
        service.send(notification_id)
        db.session.remove()
    return notification_id


def test_inbox_lists_newest_first_counts_unread_and_marks_read(app, client, make_citizen):
    citizen, other = make_citizen(), make_citizen()
    for n in range(3):
        _deliver_notice(app, citizen, f"通知{n}")
    _deliver_notice(app, other, "别人的通知")

    page = client.get("/api/v1/me/messages?per_page=2", headers=citizen["headers"]).get_json()
    assert page["total"] == 3 and page["unread"] == 3 and len(page["items"]) == 2
    assert [item["body"] for item in page["items"]] == ["【掌上市民之家】通知2", "【掌上市民之家】通知1"]
    assert page["items"][0]["title"] == "服务通知" and page["items"][0]["read"] is False

    first = page["items"][0]["id"]
    read = client.post(f"/api/v1/me/messages/{first}/read", headers=citizen["headers"])
    assert read.status_code == 200 and read.get_json()["read"] is True
    read_at = read.get_json()["read_at"]
    assert client.post(f"/api/v1/me/messages/{first}/read", headers=citizen["headers"]).get_json()["read_at"] == read_at
    after = client.get("/api/v1/me/messages?unread=true", headers=citizen["headers"]).get_json()
    assert after["unread"] == 2 and after["total"] == 2 and first not in [item["id"] for item in after["items"]]

    # Another citizen's message, or one that does not exist: 404, never 403.
    others = client.get("/api/v1/me/messages", headers=other["headers"]).get_json()["items"][0]["id"]
    stolen = client.post(f"/api/v1/me/messages/{others}/read", headers=citizen["headers"])
    assert stolen.status_code == 404 and stolen.get_json()["code"] == "message_not_found"
    assert client.post("/api/v1/me/messages/999999999/read", headers=citizen["headers"]).status_code == 404


def test_inbox_needs_a_citizen_and_valid_paging(client, make_citizen):
    citizen = make_citizen()
    assert client.get("/api/v1/me/messages").status_code == 401
    assert client.get("/api/v1/me/messages?per_page=1000", headers=citizen["headers"]).status_code == 422
    assert client.get("/api/v1/me/messages?page=0", headers=citizen["headers"]).status_code == 422
    assert client.get("/api/v1/me/messages?unread=maybe", headers=citizen["headers"]).status_code == 422
    officer = staff_token(client, "officer", client.application.config["DEMO_PASSWORD"])
    assert client.get("/api/v1/me/messages", headers=bearer(officer)).get_json()["code"] == "citizen_only"


def test_preferences_default_update_and_validation(client, make_citizen):
    citizen = make_citizen()
    url = "/api/v1/me/notification-preferences"
    assert client.get(url, headers=citizen["headers"]).get_json() == {"sms": True, "wechat": True, "quiet_hours": True}
    updated = client.put(url, json={"sms": False}, headers=citizen["headers"])
    assert updated.status_code == 200 and updated.get_json() == {"sms": False, "wechat": True, "quiet_hours": True}
    assert client.put(url, json={"quiet_hours": False}, headers=citizen["headers"]).get_json()["sms"] is False
    bad = client.put(url, json={"sms": "sometimes", "fax": True}, headers=citizen["headers"])
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"sms", "fax"}
    assert client.put(url, data="[]", content_type="application/json", headers=citizen["headers"]).status_code == 422
    assert client.put(url, json={"sms": True}).status_code == 401


def test_wechat_subscriptions_accumulate_and_unknown_templates_are_refused(client, make_citizen):
    citizen = make_citizen(wechat=True)
    url = "/api/v1/me/wechat-subscriptions"
    body = {"template_codes": ["notifications.service_notice", "notifications.service_notice"]}
    assert client.post(url, json=body, headers=citizen["headers"]).get_json() == {
        "items": [{"template_code": "notifications.service_notice", "remaining": 1}]
    }
    second = client.post(url, json={"template_codes": ["notifications.service_notice"]}, headers=citizen["headers"])
    assert second.get_json()["items"][0]["remaining"] == 2
    for codes in (["auth.sms_code"], ["no.such"]):
        refused = client.post(url, json={"template_codes": codes}, headers=citizen["headers"])
        assert refused.status_code == 422 and refused.get_json()["code"] == "template_not_subscribable"
    assert client.post(url, json={"template_codes": []}, headers=citizen["headers"]).status_code == 422
    assert client.post(url, json={"template_codes": ["x" * 65]}, headers=citizen["headers"]).status_code == 422


def test_staff_list_detail_counts_and_resend_of_failed_messages(app, client, config_override):
    password = app.config["DEMO_PASSWORD"]
    supervisor = bearer(staff_token(client, "supervisor", password))
    with app.app_context():
        phone = unique_phone()
        failed = service.notify(phone, "notifications.sms_notice", {"content": "将失败"}, dedupe_key=_key())
        delivered = service.notify(phone, "notifications.sms_notice", {"content": "成功"}, dedupe_key=_key())
        db.session.commit()
        service.send(delivered)
        config_override(NOTIFY_MAX_AGE_SECONDS=-1)  # too old at once: fails for good
        service.send(failed)
        db.session.remove()
    config_override(NOTIFY_MAX_AGE_SECONDS=86400)

    listed = client.get("/api/v1/staff/notifications?status=permanent_failure&per_page=100", headers=supervisor).get_json()
    assert all(item["status"] == "permanent_failure" for item in listed["items"])
    mine = next(item for item in listed["items"] if item["id"] == failed)
    assert mine["phone_masked"] == phone[:3] + "****" + phone[-4:] and phone not in str(listed)
    assert mine["last_error"].startswith("expired")
    assert client.get("/api/v1/staff/notifications?status=lost", headers=supervisor).status_code == 422

    detail = client.get(f"/api/v1/staff/notifications/{failed}", headers=supervisor).get_json()
    assert [event["status"] for event in detail["events"]] == ["created", "queued", "sending", "permanent_failure"]
    assert client.get("/api/v1/staff/notifications/nope", headers=supervisor).status_code == 404

    counts = client.get("/api/v1/staff/notifications/counts", headers=supervisor).get_json()
    assert counts["by_status"]["permanent_failure"] >= 1 and counts["by_channel"]["sms"] >= 1
    assert counts["total"] == sum(counts["by_status"].values()) == sum(counts["by_channel"].values())

    not_failed = client.post(f"/api/v1/staff/notifications/{delivered}/resend", json={"reason": "市民来电"}, headers=supervisor)
    assert not_failed.status_code == 409 and not_failed.get_json()["code"] == "notification_not_failed"
    headers = {**supervisor, "Idempotency-Key": uuid.uuid4().hex}
    resent = client.post(f"/api/v1/staff/notifications/{failed}/resend", json={"reason": "市民来电要求重发"}, headers=headers)
    assert resent.status_code == 201, resent.get_json()
    body = resent.get_json()
    assert body["resent_from"] == failed and body["status"] == "queued"  # published after the commit
    replay = client.post(f"/api/v1/staff/notifications/{failed}/resend", json={"reason": "市民来电要求重发"}, headers=headers)
    assert replay.status_code == 201 and replay.get_json()["id"] == body["id"]
    again = client.post(f"/api/v1/staff/notifications/{failed}/resend", json={"reason": "再发一次"}, headers=supervisor)
    assert again.status_code == 409 and again.get_json()["code"] == "notification_already_resent"
    assert client.post(f"/api/v1/staff/notifications/{failed}/resend", json={}, headers=supervisor).status_code == 422

    with app.app_context():
        assert db.session.get(Notification, failed).status == "permanent_failure"  # final stays final
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "staff:supervisor")).all()
        assert {"notifications.list", "notifications.read", "notifications.resend"} <= set(actions)


def test_staff_endpoints_need_admin_or_supervisor(app, client, make_citizen):
    password = app.config["DEMO_PASSWORD"]
    officer = bearer(staff_token(client, "officer", password))
    admin = bearer(staff_token(client, "admin", password))
    assert client.get("/api/v1/staff/notifications", headers=officer).status_code == 403
    assert client.get("/api/v1/staff/notifications/counts", headers=officer).get_json()["code"] == "role_required"
    assert client.get("/api/v1/staff/notifications", headers=make_citizen()["headers"]).get_json()["code"] == "staff_only"
    assert client.get("/api/v1/staff/notifications", headers=admin).status_code == 200
    assert client.get("/api/v1/staff/notifications").status_code == 401
