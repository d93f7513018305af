"""Notification endpoints: the citizen's inbox and preferences, staff views, gateway receipts, and the
sandbox (registered only when SANDBOX_MODE is on)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable

from flask import request

from mobile_api.access import current_account, current_staff, requires, staff_actor
from mobile_api.errors import Problem
from mobile_api.idempotency import idempotent
from mobile_api.openapi import Blueprint
from mobile_api.pagination import page_schema
from mobile_api.roles import SUPERVISOR
from notifications import service
from notifications.schemas import (
    AliyunReceiptAck,
    AliyunReceiptItem,
    InboxMessageSchema,
    InboxPageSchema,
    InboxQuery,
    NotificationCounts,
    PreferencesSchema,
    PreferencesUpdate,
    ReceiptResult,
    ReceiptSchema,
    ResendRequest,
    SandboxMessageSchema,
    SandboxQuery,
    StaffNotificationQuery,
    StaffNotificationSchema,
    TencentReceiptAck,
    TencentReceiptItem,
    WechatSubscriptionList,
    WechatSubscriptionRequest,
)

sandbox_blp = Blueprint(
    "sandbox", __name__, url_prefix="/api/v1/sandbox", description="沙箱：本应发往短信网关等外部渠道的消息（仅非生产环境）"
)
inbox_blp = Blueprint("notifications_me", __name__, url_prefix="/api/v1/me", description="我的消息、通知偏好与微信订阅")
staff_blp = Blueprint("notifications_staff", __name__, url_prefix="/api/v1/staff/notifications", description="消息发送情况（管理）")
webhook_blp = Blueprint("notifications_webhooks", __name__, url_prefix="/api/v1/webhooks", description="短信网关回执")

SIGNATURE_HEADER = "X-Sms-Signature"
TIMESTAMP_HEADER = "X-Sms-Timestamp"
SIGNATURE_MAX_SKEW_SECONDS = 300


def signed_webhook(view: Callable) -> Callable:
    """Reject receipts not signed ``hex(HMAC-SHA256(SMS_WEBHOOK_SECRET, "<timestamp>.<raw body>"))``
    or older than five minutes (a captured receipt cannot be replayed later)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "").removeprefix("sha256=")
        if not timestamp.isdigit() or not signature:
            raise Problem(401, "signature_missing", "缺少签名")
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_SKEW_SECONDS:
            raise Problem(401, "signature_expired", "签名已过期")
        body = request.get_data(cache=True)
        expected = hmac.new(service.webhook_secret().encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Problem(401, "signature_invalid", "签名不正确")
        return view(*args, **kwargs)

    return wrapper


# --- citizen --------------------------------------------------------------------------------------


@inbox_blp.route("/messages")
@requires(level=1)
@inbox_blp.arguments(InboxQuery, location="query")
@inbox_blp.response(200, InboxPageSchema)
def list_my_messages(args: dict):
    """My in-app messages, newest first, with the unread count."""
    return service.inbox(current_account().id, args["page"], args["per_page"], args["unread"])


@inbox_blp.route("/messages/<int:message_id>/read", methods=["POST"])
@requires(level=1)
@inbox_blp.response(200, InboxMessageSchema)
def read_my_message(message_id: int):
    """Mark one of my messages read (repeating it changes nothing)."""
    return service.mark_read(current_account().id, message_id)


@inbox_blp.route("/notification-preferences")
@requires(level=1)
@inbox_blp.response(200, PreferencesSchema)
def get_my_preferences():
    """My notification preferences. Essential messages (codes, case results) ignore channel opt-outs."""
    return service.get_preferences(current_account().id)


@inbox_blp.route("/notification-preferences", methods=["PUT"])
@requires(level=1)
@inbox_blp.arguments(PreferencesUpdate)
@inbox_blp.response(200, PreferencesSchema)
def put_my_preferences(args: dict):
    """Opt out of optional SMS / WeChat messages (reminders, notices), or turn quiet hours (22:00–08:00) off."""
    return service.update_preferences(current_account().id, args)


@inbox_blp.route("/wechat-subscriptions", methods=["POST"])
@requires(level=1)
@inbox_blp.arguments(WechatSubscriptionRequest)
@inbox_blp.response(200, WechatSubscriptionList)
def add_my_wechat_subscriptions(args: dict):
    """Report the templates accepted in ``wx.requestSubscribeMessage``: each allows one WeChat message."""
    return {"items": service.add_wechat_subscriptions(current_account().id, args["template_codes"])}


# --- staff ----------------------------------------------------------------------------------------


@staff_blp.route("")
@requires(roles=[SUPERVISOR])
@staff_blp.arguments(StaffNotificationQuery, location="query")
@staff_blp.response(200, page_schema(StaffNotificationSchema, "StaffNotificationPage"))
def list_notifications(args: dict):
    """Messages, newest first, filtered by status / channel / template (audited)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return service.staff_list(staff_actor(current_staff()), args, page, per_page)


@staff_blp.route("/counts")
@requires(roles=[SUPERVISOR])
@staff_blp.response(200, NotificationCounts)
def notification_counts():
    """Messages created in the last 24 hours, counted by status and by channel."""
    return service.counts_last_24h()


@staff_blp.route("/<string:notification_id>")
@requires(roles=[SUPERVISOR])
@staff_blp.response(200, StaffNotificationSchema)
def get_notification(notification_id: str):
    """One message with its status history (audited)."""
    return service.staff_detail(staff_actor(current_staff()), notification_id)


@staff_blp.route("/<string:notification_id>/resend", methods=["POST"])
@requires(roles=[SUPERVISOR])
@idempotent
@staff_blp.arguments(ResendRequest)
@staff_blp.response(201, StaffNotificationSchema)
def resend_notification(args: dict, notification_id: str):
    """Send a failed message again, as a new message linked to the failed one (once per message)."""
    return service.resend(staff_actor(current_staff()), notification_id, args["reason"])


# --- gateway receipts -----------------------------------------------------------------------------


def callback_token(provider: str) -> Callable:
    """Alibaba Cloud and Tencent Cloud do not sign their pushes: the callback URL configured in their
    console carries a secret ``?token=``, checked before the body is read."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            service.check_callback_token(provider, request.args.get("token"))
            return view(*args, **kwargs)

        return wrapper

    return decorator


@webhook_blp.route("/sms/aliyun", methods=["POST"])
@callback_token("aliyun")
@webhook_blp.arguments(AliyunReceiptItem(many=True))
@webhook_blp.response(200, AliyunReceiptAck)
def aliyun_receipts(items: list[dict]):
    """Alibaba Cloud's delivery reports (SmsReport HTTP batch push), matched by ``out_id``."""
    counts = service.record_vendor_receipts("aliyun", items)
    return {"code": 1, "msg": "部分回执暂无法处理，请稍后重推"} if counts["retry"] else {"code": 0, "msg": "接收成功"}


@webhook_blp.route("/sms/tencent", methods=["POST"])
@callback_token("tencent")
@webhook_blp.arguments(TencentReceiptItem(many=True))
@webhook_blp.response(200, TencentReceiptAck)
def tencent_receipts(items: list[dict]):
    """Tencent Cloud's SMS status callback, matched by ``sid`` (the SerialNo of SendSms)."""
    counts = service.record_vendor_receipts("tencent", items)
    return {"result": 1, "errmsg": "retry later"} if counts["retry"] else {"result": 0, "errmsg": "OK"}


@webhook_blp.route("/sms/<string:provider>", methods=["POST"])
@signed_webhook
@webhook_blp.arguments(ReceiptSchema)
@webhook_blp.response(200, ReceiptResult)
def sms_receipt(args: dict, provider: str):
    """Delivery receipt from an SMS gateway (signed). Late or repeated receipts are ignored."""
    return service.record_receipt(provider, args["message_id"], args["status"], args.get("error_code"))


# --- sandbox --------------------------------------------------------------------------------------


@sandbox_blp.route("/messages")
@sandbox_blp.arguments(SandboxQuery, location="query")
@sandbox_blp.response(200, page_schema(SandboxMessageSchema, "SandboxMessagePage"))
def list_sandbox_messages(args: dict):
    """Messages the local channel adapters recorded, newest first (sandbox mode only)."""
    return service.sandbox_messages(args.get("phone"), args["page"], args["per_page"]).as_dict()
