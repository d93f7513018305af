"""The outbox and the status machine, driven in-process through the service (channels: local log
gateway and, where marked, the HTTP adapters against local gateway servers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from notifications import service
from notifications.channels import sms_segments
from notifications.models import InboxMessage, Notification, NotificationEvent, SandboxMessage
from notifications.templates import Template, TemplateError, register_template
from tests.support import unique_phone


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def _history(notification_id: str) -> list[str]:
    return db.session.scalars(
        select(NotificationEvent.status).where(NotificationEvent.notification_id == notification_id).order_by(NotificationEvent.id)
    ).all()


def _row(notification_id: str) -> Notification:
    return db.session.get(Notification, notification_id, populate_existing=True)


def test_rolled_back_transaction_sends_nothing_and_committed_one_is_queued(app_context):
    phone = unique_phone()
    service.notify(phone, "notifications.sms_notice", {"content": "回滚"}, dedupe_key=_key())
    db.session.rollback()
    assert db.session.scalar(select(Notification).where(Notification.phone == phone)) is None

    notification_id = service.notify(phone, "notifications.sms_notice", {"content": "提交"}, dedupe_key=_key())
    db.session.commit()  # after_commit publishes to the broker and marks the row queued
    assert _row(notification_id).status == "queued"
    assert _history(notification_id) == ["created", "queued"]


def test_same_dedupe_key_twice_makes_one_message(app_context):
    key, phone = _key(), unique_phone()
    first = service.notify(phone, "notifications.sms_notice", {"content": "一"}, dedupe_key=key)
    second = service.notify(phone, "notifications.sms_notice", {"content": "二"}, dedupe_key=key)
    db.session.commit()
    assert first and second is None
    assert db.session.scalar(select(Notification).where(Notification.dedupe_key == key)).id == first


@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("notifications.sms_notice", {}),
        ("notifications.sms_notice", {"content": 5}),
        ("notifications.sms_notice", {"content": "x", "extra": "y"}),
        ("auth.sms_code", {"code": "123456", "minutes": True}),
        ("no.such_template", {"content": "x"}),
    ],
)
def test_wrong_parameters_are_programming_errors_caught_at_notify_time(app_context, code, params):
    with pytest.raises(TemplateError):
        service.notify(unique_phone(), code, params, dedupe_key=_key())
    db.session.rollback()


def test_template_body_and_parameters_must_agree():
    with pytest.raises(TemplateError):
        Template(code="t.bad", version=1, body="【掌上市民之家】{a}{b}", params={"a": str})
    with pytest.raises(TemplateError):
        Template(code="t.bad", version=1, body="【掌上市民之家】{a}", params={"a": str}, channels=("fax",))


def test_templates_are_versioned_newest_wins():
    register_template(Template(code="t.versioned", version=2, body="二{a}", params={"a": str}))
    register_template(Template(code="t.versioned", version=1, body="一{a}", params={"a": str}))
    from notifications.templates import get_template

    assert get_template("t.versioned").version == 2


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (670, 10)])
def test_chinese_sms_segments(length, segments):
    assert sms_segments("字" * length) == segments


def test_send_with_local_gateway_records_history_segments_and_sandbox(app_context):
    phone, content = unique_phone(), "您的证照已寄出，" * 10
    notification_id = service.notify(phone, "notifications.sms_notice", {"content": content}, dedupe_key=_key())
    db.session.commit()
    assert service.send(notification_id) == "delivered"
    row = _row(notification_id)
    assert (row.channel, row.provider, row.attempts) == ("sms", "log", 1)
    assert row.segments == sms_segments("【掌上市民之家】" + content) == 2
    assert row.final_at is not None and row.sent_at is not None
    assert _history(notification_id) == ["created", "queued", "sending", "sent", "delivered"]
    # A duplicate task (redelivery, sweep) changes nothing and sends nothing.
    assert service.send(notification_id) == "delivered"
    sandbox = db.session.scalars(select(SandboxMessage).where(SandboxMessage.recipient == phone)).all()
    assert len(sandbox) == 1 and content in sandbox[0].content


def test_message_too_old_is_failed_instead_of_sent_late(app_context):
    phone = unique_phone()
    notification_id = service.notify(phone, "notifications.sms_notice", {"content": "过期"}, dedupe_key=_key())
    db.session.commit()
    db.session.execute(update(Notification).where(Notification.id == notification_id).values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert service.send(notification_id) == "permanent_failure"
    row = _row(notification_id)
    assert row.last_error.startswith("expired")
    assert not db.session.scalars(select(SandboxMessage).where(SandboxMessage.recipient == phone)).all()


def test_urgent_codes_have_a_short_maximum_age(app_context):
    phone = unique_phone()
    notification_id = service.notify(phone, "auth.sms_code", {"code": "123456", "minutes": 5}, dedupe_key=_key())
    db.session.commit()
    db.session.execute(update(Notification).where(Notification.id == notification_id).values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    assert service.send(notification_id) == "permanent_failure"


@pytest.mark.parametrize(
    ("local_time", "deferred_to"),
    [
        ("2026-11-23T21:59", None),
        ("2026-11-23T22:00", "2026-11-24T08:00"),
        ("2026-11-23T23:30", "2026-11-24T08:00"),
        ("2026-11-24T03:00", "2026-11-24T08:00"),
        ("2026-11-24T07:59", "2026-11-24T08:00"),
        ("2026-11-24T08:00", None),
        ("2026-11-24T12:00", None),
    ],
)
def test_quiet_hours_in_city_time(local_time, deferred_to):
    from mobile_api.timeutil import CITY_TZ

    at = datetime.fromisoformat(local_time).replace(tzinfo=CITY_TZ)
    end = service.quiet_hours_end(at, time(22), time(8))
    expected = datetime.fromisoformat(deferred_to).replace(tzinfo=CITY_TZ).astimezone(UTC) if deferred_to else None
    assert end == expected


def test_quiet_hours_defer_notices_and_reminders_but_never_results_or_codes(app_context, config_override, make_citizen):
    config_override(NOTIFY_QUIET_HOURS="00:00-23:59")  # it is always quiet now
    citizen = make_citizen()
    deferred = service.notify(citizen["account"], "notifications.service_notice", {"content": "夜间"}, dedupe_key=_key())
    result = service.notify(citizen["account"], "notifications.sms_notice", {"content": "办件已办结"}, dedupe_key=_key())
    code = service.notify(citizen["phone"], "auth.sms_code", {"code": "654321", "minutes": 5}, dedupe_key=_key())
    db.session.commit()
    row = _row(deferred)
    assert row.status == "created" and row.deliver_after > utcnow()
    assert _row(code).status == "queued" and _row(code).deliver_after is None
    assert _row(result).status == "queued" and _row(result).deliver_after is None  # a result is never held
    # The inbox copy of the held notice is there already: only the SMS waits for the morning.
    inbox_bodies = db.session.scalars(select(InboxMessage.body).where(InboxMessage.account_id == citizen["id"])).all()
    assert "【掌上市民之家】夜间" in inbox_bodies
    # Not sent before its time, even when a task for it runs, and the sweep leaves it alone.
    assert service.send(deferred) == "created"
    service.sweep_stuck(timedelta(seconds=0))
    assert _row(deferred).status == "created"
    # Once due, the sweep publishes it.
    db.session.execute(update(Notification).where(Notification.id == deferred).values(deliver_after=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    service.sweep_stuck()
    assert _row(deferred).status == "queued"

    service.update_preferences(citizen["id"], {"quiet_hours": False})
    not_deferred = service.notify(citizen["account"], "notifications.service_notice", {"content": "不打扰关闭"}, dedupe_key=_key())
    db.session.commit()
    assert _row(not_deferred).deliver_after is None


def test_per_recipient_sms_rate_limit_defers_the_eleventh_notice_but_never_results_or_codes(app_context, config_override):
    config_override(NOTIFY_SMS_PER_RECIPIENT=10)
    phone = unique_phone()
    ids = [service.notify(phone, "notifications.service_notice", {"content": f"第{n}条"}, dedupe_key=_key()) for n in range(11)]
    code = service.notify(phone, "auth.sms_code", {"code": "111111", "minutes": 5}, dedupe_key=_key())
    result = service.notify(phone, "notifications.sms_notice", {"content": "第12条：办件结果"}, dedupe_key=_key())
    db.session.commit()
    statuses = [service.send(notification_id) for notification_id in ids] + [service.send(code), service.send(result)]
    assert statuses == ["delivered"] * 10 + ["created", "delivered", "delivered"]
    limited = _row(ids[-1])
    assert limited.deliver_after > utcnow() and limited.attempts == 0
    assert _history(ids[-1]) == ["created", "queued", "sending", "created"]
    assert db.session.scalar(
        select(NotificationEvent.detail).where(NotificationEvent.notification_id == ids[-1]).order_by(NotificationEvent.id.desc())
    ).startswith("rate limited")


def test_inbox_copy_and_opt_out_of_non_essential_channels(app_context, make_citizen):
    citizen = make_citizen()
    service.update_preferences(citizen["id"], {"sms": False})
    optional = service.notify(citizen["account"], "notifications.service_notice", {"content": "办事指南更新"}, dedupe_key=_key())
    essential = service.notify(citizen["account"], "notifications.sms_notice", {"content": "证照已办结"}, dedupe_key=_key())
    db.session.commit()
    assert service.send(optional) == "delivered"
    assert _row(optional).channel == "inbox"  # opted out of SMS, no WeChat: the inbox only
    assert service.send(essential) == "delivered"
    assert _row(essential).channel == "sms"  # essential messages ignore opt-outs
    bodies = db.session.scalars(select(InboxMessage.body).where(InboxMessage.account_id == citizen["id"])).all()
    assert sorted(bodies) == sorted(["【掌上市民之家】办事指南更新", "【掌上市民之家】证照已办结"])  # every message, in the inbox


def test_wechat_with_subscription_else_sms_local_adapters(app_context, make_citizen):
    citizen = make_citizen(wechat=True)
    service.add_wechat_subscriptions(citizen["id"], ["notifications.service_notice"])
    by_wechat = service.notify(citizen["account"], "notifications.service_notice", {"content": "预约成功"}, dedupe_key=_key())
    by_sms = service.notify(citizen["account"], "notifications.service_notice", {"content": "订阅已用完"}, dedupe_key=_key())
    db.session.commit()
    assert service.send(by_wechat) == "delivered" and _row(by_wechat).channel == "wechat"
    assert service.send(by_sms) == "delivered" and _row(by_sms).channel == "sms"
    recorded = db.session.scalars(select(SandboxMessage).where(SandboxMessage.recipient == citizen["openid"])).all()
    assert len(recorded) == 1 and recorded[0].meta["data"] == {"content": {"value": "预约成功"}}
    assert recorded[0].meta["template_id"] == "service-notice"


def test_sweep_publishes_rows_the_broker_never_got(app_context):
    notification_id = service.notify(unique_phone(), "notifications.sms_notice", {"content": "补发"}, dedupe_key=_key())
    db.session.info.pop(service.PENDING_KEY)  # as if the broker had been down at commit time
    db.session.commit()
    assert _row(notification_id).status == "created"
    assert service.sweep_stuck() == 0  # not stuck yet
    assert service.sweep_stuck(timedelta(seconds=0)) >= 1
    assert _row(notification_id).status == "queued"
    assert json.loads(_row(notification_id).params) == {"content": "补发"}


def test_row_whose_template_no_longer_exists_fails_for_good_instead_of_crashing(app_context, make_citizen):
    citizen = make_citizen()
    notification_id = service.notify(citizen["account"], "notifications.service_notice", {"content": "旧版本"}, dedupe_key=_key())
    db.session.commit()
    # Written by an older release whose template this one no longer has.
    db.session.execute(update(Notification).where(Notification.id == notification_id).values(template_code="gone.template"))
    db.session.commit()
    assert service.send(notification_id) == "permanent_failure"
    row = _row(notification_id)
    assert row.last_error.startswith("template_error") and row.final_at is not None
    assert _history(notification_id) == ["created", "queued", "sending", "permanent_failure"]
    # The inbox copy was written with the row, under the template of its day; it stays.
    assert db.session.scalar(select(InboxMessage.body).where(InboxMessage.notification_id == notification_id)) == "【掌上市民之家】旧版本"


def test_send_refuses_to_run_inside_a_callers_transaction_block(app_context):
    from mobile_api.transactions import transaction

    notification_id = service.notify(unique_phone(), "notifications.sms_notice", {"content": "嵌套"}, dedupe_key=_key())
    db.session.commit()
    with pytest.raises(RuntimeError), transaction():
        service.send(notification_id)
    assert _row(notification_id).status == "queued"  # not claimed
