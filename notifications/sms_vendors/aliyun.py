"""Alibaba Cloud SMS (阿里云短信服务, API 2017-05-25) through its official SDK ``alibabacloud-dysmsapi20170525``.

- ``SendSms``: ``PhoneNumbers``, ``SignName`` (SMS_ALIYUN_SIGN_NAME), ``TemplateCode`` and ``TemplateParam``
  (JSON) from the template mapping, ``OutId`` = our notification id. ``Code == "OK"`` → ``BizId``.
- ``QuerySendDetails`` (by phone and day, 50 a page): the sweep's "did you already get this?" — a message
  is found by its ``OutId``.
- Delivery receipts: the HTTP batch push (``SmsReport``, a JSON array) to
  ``POST /api/v1/webhooks/sms/aliyun?token=SMS_ALIYUN_CALLBACK_TOKEN``; matched by ``out_id``.

The SDK signs each request (ACS3-HMAC-SHA256 over the canonical request, AccessKey secret) and talks to
``SMS_ALIYUN_ENDPOINT`` over ``SMS_ALIYUN_PROTOCOL``; its own ``requests`` session (pooled per host) is used,
with our timeout and no SDK retries: the task retries, with failover, and counts attempts.
"""

from __future__ import annotations

from datetime import timedelta

from alibabacloud_dysmsapi20170525 import models as aliyun_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.runtime import RuntimeOptions

from mobile_api.timeutil import CITY_TZ, utcnow
from notifications.channels import ChannelError, OutgoingSms, ReceiptReport, SendResult, sms_segments
from notifications.sms_vendors.templates import vendor_template

NAME = "aliyun"
PAGE_SIZE = 50
MAX_PAGES = 20

# SendSms codes that are the recipient's or the message's, not the provider's (Alibaba Cloud's error codes).
PERMANENT_CODES = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.SMS_CONTENT_ILLEGAL",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.TEMPLATE_PARAMS_ILLEGAL",
}
RECIPIENT_LIMIT_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"}  # per-number limits: later, not elsewhere


def classify(code: str, message: str) -> ChannelError:
    reason = f"{NAME}: {code} {message or ''}".strip()
    if code in PERMANENT_CODES:
        return ChannelError(reason, permanent=True, provider_fault=False)
    if code in RECIPIENT_LIMIT_CODES:
        return ChannelError(reason, provider_fault=False)
    return ChannelError(reason)  # account, signature, template, balance, throttling, 5xx: the provider's


def _transport_error(exc: Exception) -> ChannelError:
    if isinstance(exc, AlibabaCloudException):
        return classify(str(exc.code), f"http {exc.status_code}")
    text = str(getattr(exc, "inner_exception", None) or exc)
    if "timed out" in text.lower() or "timeout" in text.lower():
        return ChannelError(f"{NAME}: gateway_timeout")
    return ChannelError(f"{NAME}: gateway_unreachable {type(exc).__name__}")


class AliyunSmsGateway:
    name = NAME

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, endpoint: str, protocol: str, timeout: float) -> None:
        millis = int(timeout * 1000)
        config = openapi_models.Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
            read_timeout=millis,
            connect_timeout=millis,
        )
        self.client = Client(config)
        self.runtime = RuntimeOptions(autoretry=False, read_timeout=millis, connect_timeout=millis)
        self.sign_name = sign_name

    def send(self, message: OutgoingSms) -> SendResult:
        template = vendor_template(NAME, message.template_code)
        request = aliyun_models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self.sign_name,
            template_code=template.code,
            template_param=template.aliyun_params(message.params),
            out_id=message.reference,
        )
        try:
            body = self.client.send_sms_with_options(request, self.runtime).body
        except Exception as exc:  # the SDK raises its own types for HTTP errors and wraps network errors
            raise _transport_error(exc) from exc
        if body.code != "OK":
            raise classify(str(body.code), str(body.message or ""))
        return SendResult(NAME, body.biz_id, sms_segments(message.text))

    def lookup(self, message: OutgoingSms) -> str | None:
        """Our reference (the ``OutId``) if Alibaba Cloud has the message, else None. Raises ChannelError.

        The receipt push names ``out_id`` too, so the reference is what receipts are matched by."""
        since = (message.since or utcnow()).astimezone(CITY_TZ).date()
        today = utcnow().astimezone(CITY_TZ).date()
        day = since
        while day <= today:
            if self._sent_on(message, day.strftime("%Y%m%d")):
                return message.reference
            day += timedelta(days=1)
        return None

    def _sent_on(self, message: OutgoingSms, send_date: str) -> bool:
        for page in range(1, MAX_PAGES + 1):
            request = aliyun_models.QuerySendDetailsRequest(
                phone_number=message.phone, send_date=send_date, page_size=PAGE_SIZE, current_page=page
            )
            try:
                body = self.client.query_send_details_with_options(request, self.runtime).body
            except Exception as exc:
                raise ChannelError(f"{NAME}: lookup_failed {_transport_error(exc).reason}") from exc
            if body.code != "OK":
                raise ChannelError(f"{NAME}: lookup_failed {body.code}")
            details = (body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else None) or []
            if any(detail.out_id == message.reference for detail in details):
                return True
            if len(details) < PAGE_SIZE:
                return False
        return False


# Receipt error codes that mean "try again later" rather than "this number cannot get it".
TEMPORARY_RECEIPT_CODES = {"EXPIRED", "MK:0004", "MK:0005", "IB:0008"}


def receipt_report(item: dict) -> ReceiptReport:
    """One entry of the ``SmsReport`` push: ``{"phone_number", "send_time", "report_time", "success",
    "err_code", "err_msg", "sms_size", "biz_id", "out_id"}``."""
    return ReceiptReport(
        reference=item.get("out_id") or None,
        provider_ref=item.get("biz_id") or None,
        delivered=bool(item.get("success")),
        code=item.get("err_code"),
        detail=item.get("err_msg"),
    )
