"""The ``local`` payment provider of the embedded default: no money moves.

The checkout is a sandbox link (``POST /api/v1/sandbox/payments/<id>/pay``, sandbox mode only) that
marks the payment paid through the same apply-once path a WeChat Pay notification takes; refunds are
done at once.
"""

from __future__ import annotations

from express.payments.base import Checkout, PaymentOrder, RefundResult


class LocalPayments:
    name = "local"

    def create(self, order: PaymentOrder) -> Checkout:
        return Checkout(self.name, {"sandbox_pay_url": f"/api/v1/sandbox/payments/{order.payment_id}/pay"})

    def close(self, payment_id: str) -> None:
        return None

    def refund(self, payment_id: str, refund_no: str, amount_cents: int, total_cents: int, reason: str) -> RefundResult:
        return RefundResult(refund_id=f"LOCAL-{refund_no}", done=True)
