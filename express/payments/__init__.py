"""Payment adapters for the delivery fee: ``local`` (sandbox) and ``wechat`` (WeChat Pay API v3, JSAPI).

Chosen by ``EXPRESS_PAYMENT_PROVIDER``. What a payment means for a case (apply once, refund when the
case is rejected) is ``express.billing``; the adapters only speak to the provider.
"""

from __future__ import annotations

from express.payments.base import (
    Checkout,
    NoticeRejected,
    PaymentError,
    PaymentNotice,
    PaymentOrder,
    PaymentProvider,
    RefundResult,
)
from express.payments.local import LocalPayments
from express.payments.wechatpay import WeChatPayments
from mobile_api.settings import setting

__all__ = [
    "Checkout",
    "NoticeRejected",
    "PaymentError",
    "PaymentNotice",
    "PaymentOrder",
    "PaymentProvider",
    "RefundResult",
    "WeChatPayments",
    "get_provider",
]


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or setting("EXPRESS_PAYMENT_PROVIDER")
    if name == "local":
        return LocalPayments()
    if name == "wechat":
        return WeChatPayments()
    raise ValueError(f"unknown payment provider {name!r}")
