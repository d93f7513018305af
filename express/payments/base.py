"""What every payment adapter takes and gives back (see ``express.payments``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PaymentOrder:
    payment_id: str  # our out_trade_no
    amount_cents: int
    description: str
    payer_openid: str | None  # WeChat JSAPI needs the payer's openid
    expires_at: datetime


@dataclass(frozen=True)
class Checkout:
    """What the app needs to take the payment (wx.requestPayment's parameters, or the sandbox link)."""

    provider: str
    params: dict
    prepay_id: str | None = None


@dataclass(frozen=True)
class PaymentNotice:
    """A verified, decrypted notice from the provider."""

    kind: str  # "paid" | "refunded" | "refund_failed" | "ignored"
    payment_id: str
    transaction_id: str | None = None
    amount_cents: int | None = None
    paid_at: datetime | None = None
    refund_id: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    done: bool  # True: the money is back; False: the provider is processing it (a notice follows)


class PaymentError(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class NoticeRejected(ValueError):
    """A notification that is not the provider's (bad signature, stale, undecryptable)."""


class PaymentProvider(Protocol):
    name: str

    def create(self, order: PaymentOrder) -> Checkout: ...

    def close(self, payment_id: str) -> None: ...

    def refund(self, payment_id: str, refund_no: str, amount_cents: int, total_cents: int, reason: str) -> RefundResult: ...
