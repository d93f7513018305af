from marshmallow import EXCLUDE, Schema, validate

from mobile_api import fields
from mobile_api.pagination import PageArgs
from notifications.models import STATUSES, Channel
from notifications.receipts import RECEIPT_STATUSES


class SandboxQuery(PageArgs):
    phone = fields.String(validate=validate.Length(max=64), metadata={"description": "Recipient phone number"})


class SandboxMessageSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    recipient = fields.String()
    content = fields.String()
    created_at = fields.DateTime()


class InboxQuery(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread messages"})


class InboxMessageSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    read = fields.Function(lambda message: message.read_at is not None)


class InboxPageSchema(Schema):
    items = fields.List(fields.Nested(InboxMessageSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    unread = fields.Integer(metadata={"description": "Unread messages in the whole inbox"})


class PreferencesSchema(Schema):
    sms = fields.Boolean(metadata={"description": "Optional messages (reminders, notices) by SMS; the inbox copy always stays"})
    wechat = fields.Boolean(metadata={"description": "Optional messages (reminders, notices) by WeChat"})
    quiet_hours = fields.Boolean(metadata={"description": "Hold the SMS / WeChat of reminders and notices 22:00–08:00"})


class PreferencesUpdate(Schema):
    sms = fields.Boolean()
    wechat = fields.Boolean()
    quiet_hours = fields.Boolean()


class WechatSubscriptionRequest(Schema):
    template_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Templates the citizen accepted in wx.requestSubscribeMessage"},
    )


class WechatSubscriptionSchema(Schema):
    template_code = fields.String()
    remaining = fields.Integer()


class WechatSubscriptionList(Schema):
    items = fields.List(fields.Nested(WechatSubscriptionSchema))


class ReceiptSchema(Schema):
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    status = fields.String(required=True, validate=validate.OneOf(sorted(RECEIPT_STATUSES)))
    error_code = fields.String(validate=validate.Length(max=64), allow_none=True)
    reference = fields.String(validate=validate.Length(max=64), allow_none=True)
    delivered_at = fields.String(validate=validate.Length(max=64), allow_none=True)


class ReceiptResult(Schema):
    id = fields.String()
    status = fields.String()
    applied = fields.Boolean(metadata={"description": "False: a late or repeated receipt, ignored"})


def _text(max_length: int = 200, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), allow_none=True, load_default=None, **kwargs)


class AliyunReceiptItem(Schema):
    """One entry of Alibaba Cloud's SmsReport HTTP push (a JSON array of these)."""

    class Meta:
        unknown = EXCLUDE  # the provider may add fields

    phone_number = _text(32)
    send_time = _text(32)
    report_time = _text(32)
    success = fields.Boolean(required=True)
    err_code = _text(64)
    err_msg = _text(200)
    sms_size = _text(8)
    biz_id = _text(64)
    out_id = _text(64)


class AliyunReceiptAck(Schema):
    code = fields.Integer(metadata={"description": "0: received; otherwise Alibaba Cloud pushes the batch again"})
    msg = fields.String()


class TencentReceiptItem(Schema):
    """One entry of Tencent Cloud's SMS status callback (a JSON array of these)."""

    class Meta:
        unknown = EXCLUDE

    user_receive_time = _text(32)
    nationcode = _text(8)
    mobile = _text(32)
    report_status = fields.String(required=True, validate=validate.OneOf(["SUCCESS", "FAIL"]))
    errmsg = _text(64)
    description = _text(200)
    sid = fields.String(required=True, validate=validate.Length(min=1, max=64))


class TencentReceiptAck(Schema):
    result = fields.Integer(metadata={"description": "0: received; otherwise Tencent Cloud calls back again"})
    errmsg = fields.String()


class StaffNotificationQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([str(status) for status in STATUSES]))
    channel = fields.String(validate=validate.OneOf([str(channel) for channel in Channel]))
    template_code = fields.String(validate=validate.Length(max=64))


class NotificationEventSchema(Schema):
    status = fields.String()
    detail = fields.String(allow_none=True)
    at = fields.DateTime()


class StaffNotificationSchema(Schema):
    id = fields.String()
    template_code = fields.String()
    template_version = fields.Integer()
    account_id = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)
    urgent = fields.Boolean()
    status = fields.String()
    channel = fields.String(allow_none=True)
    provider = fields.String(allow_none=True)
    segments = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    deliver_after = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    final_at = fields.DateTime(allow_none=True)
    resent_from = fields.String(allow_none=True)
    events = fields.List(fields.Nested(NotificationEventSchema))


class ResendRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=200), metadata={"description": "Why it is resent"})


class StatusChannelCount(Schema):
    status = fields.String()
    channel = fields.String()
    count = fields.Integer()


class NotificationCounts(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_status_and_channel = fields.List(fields.Nested(StatusChannelCount))
