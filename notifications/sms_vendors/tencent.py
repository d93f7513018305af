"""Tencent Cloud SMS (腾讯云短信, API 2021-01-11) through its official SDK ``tencentcloud-sdk-python-sms``.

- ``SendSms``: ``PhoneNumberSet`` (E.164, ``+86…``), ``SmsSdkAppId``, ``SignName``, ``TemplateId`` and
  ``TemplateParamSet`` from the template mapping, ``SessionContext`` = our notification id, ``ExtendCode``
  when configured. The per-number ``SendStatus.Code == "Ok"`` → ``SerialNo`` (and ``Fee``: segments billed).
- ``PullSmsSendStatusByPhoneNumber`` (the per-number form of ``PullSmsSendStatus``, which would consume the
  status queue): the sweep's "did you already get this?" — a message is found by its ``SessionContext``.
  Tencent returns a message's status once the operator reported it, and returns ``SessionContext`` only
  when that feature is enabled for the account (ask Tencent Cloud support): both are needed for the look-up.
- Delivery receipts: the status callback (a JSON array) to
  ``POST /api/v1/webhooks/sms/tencent?token=SMS_TENCENT_CALLBACK_TOKEN``; matched by ``sid`` (= ``SerialNo``).

The SDK signs each request (TC3-HMAC-SHA256 with the SecretKey) and talks to ``SMS_TENCENT_ENDPOINT`` over
``SMS_TENCENT_PROTOCOL`` with its own ``requests`` session; our timeout, no SDK retries, no region breaker
(it would switch to another Tencent endpoint by itself).
"""

from __future__ import annotations

from datetime import timedelta

from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tencent_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from mobile_api.timeutil import utcnow
from notifications.channels import ChannelError, OutgoingSms, ReceiptReport, SendResult, sms_segments
from notifications.sms_vendors.templates import vendor_template

NAME = "tencent"
PAGE_SIZE = 100
MAX_PAGES = 10

PERMANENT_PREFIXES = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "InvalidParameterValue.ContentLengthLimit",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.ContainSensitiveWord",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
)
RECIPIENT_LIMIT_PREFIXES = ("LimitExceeded.PhoneNumber",)  # per-number limits (30 s, hour, day, same content)


def classify(code: str, message: str) -> ChannelError:
    reason = f"{NAME}: {code} {message or ''}".strip()
    if code.startswith(PERMANENT_PREFIXES):
        return ChannelError(reason, permanent=True, provider_fault=False)
    if code.startswith(RECIPIENT_LIMIT_PREFIXES):
        return ChannelError(reason, provider_fault=False)
    return ChannelError(reason)


def _sdk_error(exc: TencentCloudSDKException) -> ChannelError:
    code, message = str(exc.get_code() or ""), str(exc.get_message() or "")
    if code == "ClientNetworkError":
        timed_out = "timed out" in message.lower() or "timeout" in message.lower()
        return ChannelError(f"{NAME}: gateway_timeout" if timed_out else f"{NAME}: gateway_unreachable")
    if code == "ServerNetworkError":
        return ChannelError(f"{NAME}: gateway_error")
    return classify(code, message[:200])


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


class TencentSmsGateway:
    name = NAME

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        region: str,
        endpoint: str,
        protocol: str,
        timeout: float,
        extend_code: str = "",
    ) -> None:
        profile = ClientProfile(
            httpProfile=HttpProfile(protocol=protocol, endpoint=endpoint, reqTimeout=timeout), disable_region_breaker=True
        )
        self.client = SmsClient(Credential(secret_id, secret_key), region, profile)
        self.sdk_app_id, self.sign_name, self.extend_code = sdk_app_id, sign_name, extend_code

    def send(self, message: OutgoingSms) -> SendResult:
        template = vendor_template(NAME, message.template_code)
        request = tencent_models.SendSmsRequest()
        request.PhoneNumberSet = [e164(message.phone)]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = template.code
        request.TemplateParamSet = template.tencent_params(message.params)
        request.SessionContext = message.reference
        if self.extend_code:
            request.ExtendCode = self.extend_code
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise _sdk_error(exc) from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise ChannelError(f"{NAME}: empty SendStatusSet")
        status = statuses[0]
        if status.Code != "Ok":
            raise classify(str(status.Code), str(status.Message or ""))
        segments = int(status.Fee) if status.Fee else sms_segments(message.text)
        return SendResult(NAME, status.SerialNo, segments)

    def lookup(self, message: OutgoingSms) -> str | None:
        """The ``SerialNo`` of the message whose ``SessionContext`` is our reference, else None."""
        now = utcnow()
        begin = (message.since or now) - timedelta(minutes=5)
        for page in range(MAX_PAGES):
            request = tencent_models.PullSmsSendStatusByPhoneNumberRequest()
            request.BeginTime = int(begin.timestamp())
            request.EndTime = int(now.timestamp()) + 60
            request.Offset = page * PAGE_SIZE
            request.Limit = PAGE_SIZE
            request.PhoneNumber = e164(message.phone)
            request.SmsSdkAppId = self.sdk_app_id
            try:
                response = self.client.PullSmsSendStatusByPhoneNumber(request)
            except TencentCloudSDKException as exc:
                raise ChannelError(f"{NAME}: lookup_failed {_sdk_error(exc).reason}") from exc
            statuses = response.PullSmsSendStatusSet or []
            found = next((status for status in statuses if status.SessionContext == message.reference), None)
            if found is not None:
                return found.SerialNo
            if len(statuses) < PAGE_SIZE:
                return None
        return None


TEMPORARY_RECEIPT_CODES = {"EXPIRED", "DELAYED"}


def receipt_report(item: dict) -> ReceiptReport:
    """One entry of the status callback: ``{"user_receive_time", "nationcode", "mobile", "report_status",
    "errmsg", "description", "sid"}``."""
    return ReceiptReport(
        reference=None,
        provider_ref=item.get("sid") or None,
        delivered=item.get("report_status") == "SUCCESS",
        code=item.get("errmsg"),
        detail=item.get("description"),
    )
