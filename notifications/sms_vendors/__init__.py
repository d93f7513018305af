"""SMS through the providers cities use, by their official SDKs: Alibaba Cloud (``aliyun.py``) and Tencent
Cloud (``tencent.py``); template codes and parameter mappings per provider in ``templates.py``.

Settings (``notifications.DEFAULTS``): ``SMS_ALIYUN_*`` and ``SMS_TENCENT_*`` (credentials, signature,
endpoint, receipt callback token), ``SMS_VENDOR_TEMPLATES``. ``vendor_gateway(name)`` builds one SDK client
per process and settings.
"""

from __future__ import annotations

from flask import current_app

from mobile_api.settings import setting
from notifications.channels import ReceiptReport
from notifications.sms_vendors import aliyun, tencent

SETTINGS = {
    "aliyun": (
        "SMS_ALIYUN_ACCESS_KEY_ID",
        "SMS_ALIYUN_ACCESS_KEY_SECRET",
        "SMS_ALIYUN_SIGN_NAME",
        "SMS_ALIYUN_ENDPOINT",
        "SMS_ALIYUN_PROTOCOL",
    ),
    "tencent": (
        "SMS_TENCENT_SECRET_ID",
        "SMS_TENCENT_SECRET_KEY",
        "SMS_TENCENT_SDK_APP_ID",
        "SMS_TENCENT_SIGN_NAME",
        "SMS_TENCENT_REGION",
        "SMS_TENCENT_ENDPOINT",
        "SMS_TENCENT_PROTOCOL",
    ),
}
CALLBACK_TOKENS = {"aliyun": "SMS_ALIYUN_CALLBACK_TOKEN", "tencent": "SMS_TENCENT_CALLBACK_TOKEN"}
RECEIPT_PARSERS = {"aliyun": aliyun.receipt_report, "tencent": tencent.receipt_report}
TEMPORARY_RECEIPT_CODES = {"aliyun": aliyun.TEMPORARY_RECEIPT_CODES, "tencent": tencent.TEMPORARY_RECEIPT_CODES}


def vendor_gateway(name: str) -> aliyun.AliyunSmsGateway | tencent.TencentSmsGateway:
    values = tuple(setting(key) for key in SETTINGS[name]) + (setting("HTTP_TIMEOUT_SECONDS"), setting("SMS_TENCENT_EXTEND_CODE"))
    cache = current_app.extensions.setdefault("sms_vendor_gateways", {})
    gateway = cache.get((name, values))
    if gateway is None:
        if name == "aliyun":
            gateway = aliyun.AliyunSmsGateway(*values[:6])
        else:
            gateway = tencent.TencentSmsGateway(*values[:8], extend_code=values[8])
        cache[(name, values)] = gateway
    return gateway


def missing_settings(name: str) -> list[str]:
    return [key for key in SETTINGS[name] + (CALLBACK_TOKENS[name],) if not setting(key)]


def receipt_reports(name: str, items: list[dict]) -> list[ReceiptReport]:
    return [RECEIPT_PARSERS[name](item) for item in items]
