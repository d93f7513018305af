"""The Alibaba Cloud and Tencent Cloud SMS adapters — the providers' official SDKs — against local servers
answering in each provider's format and checking each provider's request signature: send, provider
errors, failover, a receipt push of each format, and the look-ups that keep a message from being sent twice.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mobile_api.config import ConfigError
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications import service
from notifications.channels import OutgoingSms
from notifications.models import Notification, NotificationEvent, NotificationStatus
from notifications.providers import error_rate, sms_gateway_named
from notifications.templates import all_templates
from notifications.transitions import transition
from tests.notifications.conftest import reset_channel_state
from tests.notifications.vendor_fakes import FakeAliyunSms, FakeTencentSms
from tests.support import unique_phone

AK_ID, AK_SECRET = "LTAI5tTestAccessKey", "aliyun-test-access-key-secret"
SECRET_ID, SECRET_KEY, SDK_APP_ID = "AKIDtestsecretid", "tencent-test-secret-key", "1400006666"
ALIYUN_TOKEN, TENCENT_TOKEN = "aliyun-callback-token-x1", "tencent-callback-token-y2"


def full_mapping() -> dict:
    """A template code and parameter mapping at both providers for every template that can go by SMS."""
    sms_templates = [template for template in all_templates() if "sms" in template.channels]
    return {
        "aliyun": {
            t.code: {"template": f"SMS_{4000 + n}", "params": {name: name for name in t.params}} for n, t in enumerate(sms_templates)
        },
        "tencent": {t.code: {"template": str(1100 + n), "params": list(t.params)} for n, t in enumerate(sms_templates)},
    }


def vendor_settings(aliyun: FakeAliyunSms, tencent: FakeTencentSms) -> dict:
    return {
        "SMS_VENDOR_TEMPLATES": full_mapping(),
        "SMS_ALIYUN_ACCESS_KEY_ID": AK_ID,
        "SMS_ALIYUN_ACCESS_KEY_SECRET": AK_SECRET,
        "SMS_ALIYUN_SIGN_NAME": "掌上市民之家",
        "SMS_ALIYUN_ENDPOINT": aliyun.endpoint,
        "SMS_ALIYUN_PROTOCOL": "http",
        "SMS_ALIYUN_CALLBACK_TOKEN": ALIYUN_TOKEN,
        "SMS_TENCENT_SECRET_ID": SECRET_ID,
        "SMS_TENCENT_SECRET_KEY": SECRET_KEY,
        "SMS_TENCENT_SDK_APP_ID": SDK_APP_ID,
        "SMS_TENCENT_SIGN_NAME": "掌上市民之家",
        "SMS_TENCENT_ENDPOINT": tencent.endpoint,
        "SMS_TENCENT_PROTOCOL": "http",
        "SMS_TENCENT_CALLBACK_TOKEN": TENCENT_TOKEN,
        "HTTP_TIMEOUT_SECONDS": 0.5,
        "NOTIFY_MAX_ATTEMPTS": 5,
    }


@pytest.fixture(scope="module")
def vendor_servers():
    aliyun, tencent = FakeAliyunSms(AK_ID, AK_SECRET), FakeTencentSms(SECRET_ID, SECRET_KEY, SDK_APP_ID)
    yield aliyun, tencent
    aliyun.close()
    tencent.close()


@pytest.fixture()
def vendors(app, vendor_servers, config_override):
    """``use("aliyun,tencent", **more)``: this process sends through the SDK adapters to the local fakes."""
    aliyun, tencent = vendor_servers
    aliyun.reset()
    tencent.reset()
    reset_channel_state(app)

    def use(providers: str, **more) -> tuple[FakeAliyunSms, FakeTencentSms]:
        config_override(SMS_PROVIDER=providers, **{**vendor_settings(aliyun, tencent), **more})
        return aliyun, tencent

    yield use
    reset_channel_state(app)


def _notify(content: str = "您的申请已受理", phone: str | None = None) -> str:
    notification_id = service.notify(
        phone or unique_phone(), "notifications.sms_notice", {"content": content}, dedupe_key=f"t:{uuid.uuid4().hex}"
    )
    db.session.commit()
    return notification_id


def _row(notification_id: str) -> Notification:
    return db.session.get(Notification, notification_id, populate_existing=True)


def _send_until_final(notification_id: str, limit: int = 10) -> list[str]:
    outcomes = []
    for _ in range(limit):
        try:
            outcomes.append(service.send(notification_id))
            return outcomes
        except service.RetryLater:
            outcomes.append("retry")
    return outcomes


# --- sending --------------------------------------------------------------------------------------


def test_aliyun_sends_the_approved_template_with_our_reference_and_a_valid_signature(app_context, vendors):
    aliyun, tencent = vendors("aliyun")
    notification_id = _notify("您的申请已受理")
    assert service.send(notification_id) == "sent"
    row = _row(notification_id)
    sent = aliyun.accepted[notification_id]  # OutId = our reference
    assert (row.provider, row.channel, row.provider_ref) == ("aliyun", "sms", sent["biz_id"])
    assert sent["template_code"] == full_mapping()["aliyun"]["notifications.sms_notice"]["template"]
    assert sent["template_param"] == {"content": "您的申请已受理"} and sent["sign_name"] == "掌上市民之家"
    assert sent["phone"] == row.phone and aliyun.bad_signatures == 0 and not tencent.posts

    code = service.notify(row.phone, "auth.sms_code", {"code": "024681", "minutes": 5}, dedupe_key=f"t:{uuid.uuid4().hex}", urgent=True)
    db.session.commit()
    assert service.send(code) == "sent"
    assert aliyun.accepted[code]["template_param"] == {"code": "024681", "minutes": "5"}  # values go as text


def test_tencent_sends_the_approved_template_with_session_context_and_counts_billed_segments(app_context, vendors):
    aliyun, tencent = vendors("tencent", SMS_TENCENT_EXTEND_CODE="12")
    content = (
        "请于三个工作日内携带身份证原件到市民之家二楼B区12号窗口领取您的不动产权证书，"
        "逾期未领取的证书将转入档案室保管，届时请到档案室领取。"
    )
    notification_id = _notify(content)
    assert service.send(notification_id) == "sent"
    row = _row(notification_id)
    sent = tencent.accepted[notification_id]  # SessionContext = our reference
    assert (row.provider, row.provider_ref, row.segments) == ("tencent", sent["serial"], 2)  # Fee from the answer
    assert sent["phone"] == f"+86{row.phone}" and sent["template_id"] == full_mapping()["tencent"]["notifications.sms_notice"]["template"]
    assert sent["params"] == [content]
    assert sent["extend_code"] == "12" and tencent.bad_signatures == 0 and not aliyun.posts


@pytest.mark.parametrize(
    ("provider", "setting", "code"),
    [
        ("aliyun", "SMS_ALIYUN_ACCESS_KEY_SECRET", "SignatureDoesNotMatch"),
        ("tencent", "SMS_TENCENT_SECRET_KEY", "AuthFailure.SignatureFailure"),
    ],
)
def test_a_wrong_secret_is_refused_by_the_providers_signature_check(app_context, vendors, provider, setting, code):
    servers = dict(zip(("aliyun", "tencent"), vendors(provider, **{setting: "not-the-secret"}), strict=True))
    notification_id = _notify()
    with pytest.raises(service.RetryLater):
        service.send(notification_id)
    assert servers[provider].bad_signatures == 1 and code in _row(notification_id).last_error


def test_provider_errors_retry_and_recipient_errors_fail_without_blaming_the_provider(app_context, vendors):
    aliyun, tencent = vendors("aliyun,tencent")
    aliyun.mode = "error"
    failing = _notify()
    with pytest.raises(service.RetryLater):
        service.send(failing)
    assert _row(failing).last_error == "aliyun: ServiceUnavailable http 503" and error_rate("aliyun") == (1.0, 1)

    aliyun.mode, aliyun.code = "code", "isv.MOBILE_NUMBER_ILLEGAL"
    bad_number = _notify()
    assert service.send(bad_number) == "permanent_failure"
    assert "isv.MOBILE_NUMBER_ILLEGAL" in _row(bad_number).last_error and _row(bad_number).attempts == 1
    assert error_rate("aliyun") == (1.0, 1)  # the recipient's problem, not counted against aliyun

    aliyun.mode = "ok"  # one error in one attempt is below SMS_FAILOVER_MIN_ATTEMPTS: aliyun is still first
    next_one = _notify()
    assert service.send(next_one) == "sent" and _row(next_one).provider == "aliyun" and not tencent.posts


def test_per_number_limit_is_retried_later_and_not_counted(app_context, vendors):
    _aliyun, tencent = vendors("tencent")
    tencent.mode, tencent.code = "code", "LimitExceeded.PhoneNumberDailyLimit"
    notification_id = _notify()
    with pytest.raises(service.RetryLater):
        service.send(notification_id)
    assert "LimitExceeded.PhoneNumberDailyLimit" in _row(notification_id).last_error
    tencent.mode, tencent.code = "code", "FailedOperation.PhoneNumberInBlacklist"
    assert service.send(notification_id) == "permanent_failure"


def test_failover_from_a_failing_aliyun_to_tencent_by_recent_error_rate(app_context, vendors):
    aliyun, tencent = vendors("aliyun,tencent")
    aliyun.mode = "error"
    notification_id = _notify()
    outcomes = _send_until_final(notification_id)
    assert outcomes == ["retry", "retry", "retry", "sent"]  # aliyun reaches 3 errors in 3 attempts, then tencent
    row = _row(notification_id)
    assert (row.provider, row.attempts) == ("tencent", 4)
    assert aliyun.posts[notification_id] == 3 and tencent.posts[notification_id] == 1
    assert error_rate("aliyun") == (1.0, 3) and error_rate("tencent") == (0.0, 1)
    assert [gateway.name for gateway in service_gateways()] == ["tencent", "aliyun"]


def service_gateways():
    from notifications.providers import sms_gateways_by_health

    return sms_gateways_by_health()


# --- never twice: look-ups ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_a_timed_out_send_that_reached_the_provider_is_found_and_not_sent_again(app_context, vendors, provider):
    servers = dict(zip(("aliyun", "tencent"), vendors(provider), strict=True))
    fake = servers[provider]
    fake.mode, fake.delay = "timeout", 1.0
    notification_id = _notify()
    with pytest.raises(service.RetryLater):
        service.send(notification_id)
    assert _row(notification_id).last_error == f"{provider}: gateway_timeout"
    time.sleep(fake.delay)  # the provider finishes accepting it after our timeout
    fake.mode = "ok"
    assert service.send(notification_id) == "sent"
    assert fake.posts[notification_id] == 1
    expected_ref = notification_id if provider == "aliyun" else fake.accepted[notification_id]["serial"]
    assert _row(notification_id).provider_ref == expected_ref


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_the_sweep_asks_the_provider_before_resending_what_a_dead_worker_left_sending(app_context, vendors, provider):
    servers = dict(zip(("aliyun", "tencent"), vendors(provider), strict=True))
    fake = servers[provider]
    reached, lost = _notify("已送达服务商"), _notify("未送达服务商")
    for notification_id in (reached, lost):  # a worker claimed both, then died
        with transaction():
            transition(notification_id, NotificationStatus.SENDING, attempts=Notification.attempts + 1)
    row = _row(reached)
    gateway = sms_gateway_named(provider)
    gateway.send(OutgoingSms(row.phone, "已送达服务商", reached, row.template_code, {"content": "已送达服务商"}, row.updated_at))
    with transaction():
        db.session.execute(
            update(Notification).where(Notification.id.in_([reached, lost])).values(updated_at=utcnow() - timedelta(minutes=2))
        )

    service.sweep_stuck(stuck_after=timedelta(seconds=1))
    settled = _row(reached)
    assert settled.status == "sent" and settled.provider == provider and fake.posts[reached] == 1
    assert _row(lost).status in ("queued", "sending", "sent", "delivered")  # published again (a worker may run it)
    recovered = db.session.scalars(select(NotificationEvent.detail).where(NotificationEvent.notification_id == lost)).all()
    assert "recovered: the sender died before the gateway got it" in recovered
    assert fake.posts[lost] <= 1


# --- receipts -------------------------------------------------------------------------------------


def test_aliyun_receipt_push_in_its_documented_format(app_context, vendors, client):
    aliyun, _ = vendors("aliyun")
    delivered, failed = _notify(), _notify()
    service.send(delivered)
    service.send(failed)

    def push(items, token=ALIYUN_TOKEN):
        return client.post(f"/api/v1/webhooks/sms/aliyun?token={token}", json=items)

    def report(notification_id, success, code, message):
        sent = aliyun.accepted[notification_id]
        return {
            "phone_number": sent["phone"],
            "send_time": "2026-11-23 10:00:00",
            "report_time": "2026-11-23 10:00:03",
            "success": success,
            "err_code": code,
            "err_msg": message,
            "sms_size": "1",
            "biz_id": sent["biz_id"],
            "out_id": notification_id,
        }

    batch = [report(delivered, True, "DELIVERED", "用户接收成功"), report(failed, False, "MK:0001", "空号")]
    assert push(batch, token="wrong").status_code == 401
    assert client.post("/api/v1/webhooks/sms/aliyun", json=batch).json["code"] == "callback_token_invalid"
    answer = push(batch)
    assert answer.status_code == 200 and answer.json == {"code": 0, "msg": "接收成功"}
    assert _row(delivered).status == "delivered" and _row(failed).status == "permanent_failure"
    assert "MK:0001" in _row(failed).last_error
    assert push([report(delivered, False, "MK:0001", "late")]).json["code"] == 0 and _row(delivered).status == "delivered"
    unknown = {**report(delivered, True, "DELIVERED", "ok"), "out_id": "no-such-message", "biz_id": "0^0"}
    assert push([unknown]).json["code"] == 1  # not ours yet: the provider is asked to push again
    assert push([{"success": "maybe"}]).status_code == 422


def test_tencent_receipt_push_in_its_documented_format(app_context, vendors, client):
    _, tencent = vendors("tencent")
    delivered, failed = _notify(), _notify()
    service.send(delivered)
    service.send(failed)

    def report(notification_id, status, errmsg, description):
        sent = tencent.accepted[notification_id]
        return {
            "user_receive_time": "2026-11-23 10:00:04",
            "nationcode": "86",
            "mobile": sent["phone"].removeprefix("+86"),
            "report_status": status,
            "errmsg": errmsg,
            "description": description,
            "sid": sent["serial"],
        }

    batch = [report(delivered, "SUCCESS", "DELIVRD", "用户短信送达成功"), report(failed, "FAIL", "EXPIRED", "短信过期")]
    assert client.post("/api/v1/webhooks/sms/tencent?token=nope", json=batch).status_code == 401
    answer = client.post(f"/api/v1/webhooks/sms/tencent?token={TENCENT_TOKEN}", json=batch)
    assert answer.status_code == 200 and answer.json == {"result": 0, "errmsg": "OK"}
    assert _row(delivered).status == "delivered" and _row(failed).status == "temporary_failure"
    # The aliyun callback is not open while only tencent is configured.
    assert client.post(f"/api/v1/webhooks/sms/aliyun?token={ALIYUN_TOKEN}", json=[]).status_code == 404


def test_receipts_are_closed_when_no_provider_is_configured(client):
    assert client.post("/api/v1/webhooks/sms/tencent?token=anything", json=[]).status_code == 404


# --- the start-up check ---------------------------------------------------------------------------


def test_start_up_refuses_a_provider_without_a_template_for_every_sms_template(vendor_servers):
    from mobile_api import create_app

    settings = {**vendor_settings(*vendor_servers), "SMS_PROVIDER": "aliyun,tencent"}
    assert create_app(settings).config["SMS_PROVIDER"] == "aliyun,tencent"  # complete: starts

    partial = full_mapping()
    del partial["tencent"]["auth.sms_code"]
    partial["aliyun"]["notifications.sms_notice"]["params"] = {"content": "contents"}
    with pytest.raises(ConfigError) as refused:
        create_app({**settings, "SMS_VENDOR_TEMPLATES": partial})
    assert "tencent: no template code for auth.sms_code" in str(refused.value)
    assert "aliyun: notifications.sms_notice maps unknown parameters ['contents']" in str(refused.value)
    with pytest.raises(ConfigError, match="SMS_TENCENT_SECRET_KEY is not set"):
        create_app({**settings, "SMS_TENCENT_SECRET_KEY": ""})


def test_the_example_mapping_covers_every_sms_template(app_context, config_override):
    """notifications/sms_vendors/templates.example.toml is what a deployment starts from: read from its
    path, it must pass the start-up check (a package that adds an SMS template adds it there too)."""
    from pathlib import Path

    from notifications.sms_vendors.templates import mapping_problems

    example = Path(__file__).resolve().parents[2] / "notifications" / "sms_vendors" / "templates.example.toml"
    config_override(SMS_VENDOR_TEMPLATES=str(example))
    problems = mapping_problems("aliyun") + mapping_problems("tencent")
    # Templates other tests of this session registered ("t.*") are not the application's.
    assert [problem for problem in problems if " t." not in problem] == []
