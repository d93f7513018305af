"""The delivery fee: start a payment, apply a provider's "paid" exactly once, refund when owed.

- A payment row (``express_payments``, id = our out_trade_no) is written and committed *before* the
  provider is asked for a prepay order, so a crash in between leaves a harmless pending row, never a
  provider order we do not know.
- "Paid" is applied by one conditional UPDATE from the status we read (``pending``, or ``closed`` for a
  superseded payment whose money still arrived): a notification repeated, or racing the sandbox link,
  changes nothing the second time. Money for a payment nobody needs any more is refunded.
- A refund is decided inside the transaction that makes it owed (the case rejected, the citizen switched
  to pickup) as ``refund_requested``; the ``express.refund_payment`` task asks the provider after
  commit, with our out_refund_no, so asking twice never refunds twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from auth.models import Account
from cases.fulfilment import delivery_case, delivery_case_for_citizen, touch_case_view
from express.dispatch import after_commit
from express.fees import yuan
from express.models import Delivery, DeliveryChoice, DeliveryMethod, DeliveryStatus, Direction, Payment, PaymentState, PaymentStatus
from express.notices import tell_citizen
from express.payments import Checkout, PaymentError, PaymentNotice, PaymentOrder, WeChatPayments, get_provider
from express.views import choice_view, payment_view
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)

PREPAY_REUSE = timedelta(minutes=60)  # a prepay order lives 2 hours at WeChat Pay; reuse it for one


def start_payment(account: Account, case_no: str) -> dict:
    """Pay the delivery fee of a case: the checkout the app needs (WeChat JSAPI parameters, or the sandbox link)."""
    provider = get_provider()
    with transaction():
        case = delivery_case_for_citizen(account.id, case_no)
        choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case.id))
        if choice is None or choice.method != DeliveryMethod.EXPRESS:
            raise Problem(409, "no_express_delivery", "请先选择快递寄送")
        if choice.payment_state != PaymentState.UNPAID or choice.fee_cents <= 0:
            raise Problem(409, "nothing_to_pay", "此办件没有待支付的快递费", payment_state=choice.payment_state)
        reusable = _reusable_payment(case.id, provider.name, choice.fee_cents)
        if reusable is not None and provider.name == "wechat":
            return _checkout_view(reusable, Checkout("wechat", provider.request_payment_params(reusable.prepay_id), reusable.prepay_id))
        _close_pending(case.id, keep=None)
        payment = Payment(case_id=case.id, account_id=account.id, provider=provider.name, amount_cents=choice.fee_cents)
        db.session.add(payment)
        db.session.flush()
        order = PaymentOrder(
            payment_id=payment.id,
            amount_cents=payment.amount_cents,
            description=f"证照快递费-{case.item_name}",
            payer_openid=account.wechat_openid,
            expires_at=utcnow() + timedelta(minutes=setting("EXPRESS_PAYMENT_MINUTES")),
        )
    try:
        checkout = provider.create(order)
    except PaymentError as exc:
        with transaction():
            _set_status(payment.id, PaymentStatus.PENDING, PaymentStatus.CLOSED, last_error=str(exc))
        if exc.temporary:
            raise Problem(503, "payment_unavailable", "支付服务暂时不可用，请稍后再试") from exc
        raise Problem(409, "payment_refused", "无法发起支付", detail=str(exc)) from exc
    with transaction():
        db.session.execute(update(Payment).where(Payment.id == payment.id).values(prepay_id=checkout.prepay_id))
    return _checkout_view(db.session.get(Payment, payment.id), checkout)


def _checkout_view(payment: Payment, checkout: Checkout) -> dict:
    return {"payment": payment_view(payment), "provider": checkout.provider, "params": checkout.params}


def _reusable_payment(case_id: int, provider: str, amount_cents: int) -> Payment | None:
    return db.session.scalar(
        select(Payment)
        .where(
            Payment.case_id == case_id,
            Payment.provider == provider,
            Payment.status == PaymentStatus.PENDING,
            Payment.amount_cents == amount_cents,
            Payment.prepay_id.is_not(None),
            Payment.created_at > utcnow() - PREPAY_REUSE,
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )


def close_pending_payments(case_id: int) -> None:
    """The quote changed or the citizen chose pickup: pending payments are closed (here and at the provider)."""
    _close_pending(case_id, keep=None)


def _close_pending(case_id: int, keep: str | None) -> None:
    pending = db.session.scalars(select(Payment.id).where(Payment.case_id == case_id, Payment.status == PaymentStatus.PENDING)).all()
    for payment_id in pending:
        if payment_id != keep and _set_status(payment_id, PaymentStatus.PENDING, PaymentStatus.CLOSED):
            after_commit("express.close_payment", payment_id)


def _set_status(payment_id: str, from_status: str, to_status: str, **values) -> bool:
    return bool(
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == from_status)
            .values(status=to_status, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


# --- "paid", from the provider's notification or the sandbox link ----------------------------------


def apply_paid(payment_id: str, transaction_id: str, amount_cents: int, paid_at: datetime | None) -> str:
    """Apply a provider's "paid" once. Returns ``applied``, ``already`` or ``refunding`` (nobody needed it)."""
    with transaction():
        payment = db.session.get(Payment, payment_id)
        if payment is None:
            raise Problem(404, "payment_not_found", "支付单不存在", payment_id=payment_id)
        if amount_cents != payment.amount_cents:
            log.error("payment %s: paid %s fen, expected %s", payment_id, amount_cents, payment.amount_cents)
            raise Problem(422, "amount_mismatch", "支付金额与订单不符")
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.CLOSED):
            return "already"
        was = payment.status
        if not _set_status(payment_id, was, PaymentStatus.PAID, transaction_id=transaction_id, paid_at=paid_at or utcnow()):
            return "already"  # another notification applied it a moment ago
        choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == payment.case_id))
        wanted = (
            choice is not None
            and choice.method == DeliveryMethod.EXPRESS
            and choice.payment_state == PaymentState.UNPAID
            and choice.fee_cents == payment.amount_cents
        )
        if not wanted:
            _refund_payment(payment_id, "订单已变更，多付款项原路退回")
            return "refunding"
        choice.payment_state, choice.paid_payment_id = PaymentState.PAID, payment_id
        _close_pending(payment.case_id, keep=payment_id)  # other checkouts the citizen opened can no longer be paid
        touch_case_view(payment.case_id)
        waiting = db.session.scalars(
            select(Delivery.id).where(
                Delivery.case_id == payment.case_id, Delivery.direction == Direction.OUTBOUND, Delivery.status == DeliveryStatus.CREATED
            )
        ).all()
        for delivery_id in waiting:  # issued while unpaid: book the waybill now
            after_commit("express.book_waybill", delivery_id)
        return "applied"


def sandbox_pay(payment_id: str) -> dict:
    """The ``local`` provider's checkout link: pay a pending local payment (sandbox mode only)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.provider != "local":
        raise Problem(404, "payment_not_found", "支付单不存在", payment_id=payment_id)
    outcome = apply_paid(payment_id, f"SANDBOX-{payment_id}", payment.amount_cents, utcnow())
    return {"outcome": outcome, "payment": payment_view(db.session.get(Payment, payment_id))}


def handle_wechat_notice(headers, body: bytes) -> str:
    """``POST /api/v1/webhooks/pay/wechat``: verify and decrypt (``NoticeRejected``), then apply once."""
    if setting("EXPRESS_PAYMENT_PROVIDER") != "wechat":
        raise Problem(404, "not_found", "未启用微信支付")
    return apply_notice(WeChatPayments().parse_notice(headers, body))


def sandbox_pay_own(account_id: str, payment_id: str) -> dict:
    """The sandbox checkout link, for the citizen whose payment it is (404 for anyone else's)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.account_id != account_id:
        raise Problem(404, "payment_not_found", "支付单不存在", payment_id=payment_id)
    return sandbox_pay(payment_id)


def apply_notice(notice: PaymentNotice) -> str:
    """A verified notice from the provider: paid, refunded, refund failed, or nothing for us."""
    if notice.kind == "paid":
        return apply_paid(notice.payment_id, notice.transaction_id or "", notice.amount_cents or 0, notice.paid_at)
    if notice.kind in ("refunded", "refund_failed"):
        return _apply_refund_notice(notice)
    return "ignored"


def _apply_refund_notice(notice: PaymentNotice) -> str:
    with transaction():
        payment = db.session.get(Payment, notice.payment_id)
        if payment is None:
            raise Problem(404, "payment_not_found", "支付单不存在", payment_id=notice.payment_id)
        if notice.kind == "refund_failed":
            log.error("refund of payment %s failed at the provider: %s", payment.id, notice.raw.get("refund_status"))
            _set_status(payment.id, payment.status, payment.status, last_error=f"退款失败：{notice.raw.get('refund_status')}")
            return "refund_failed"
        for status in (PaymentStatus.REFUNDING, PaymentStatus.REFUND_REQUESTED):
            if _set_status(
                payment.id, status, PaymentStatus.REFUNDED, refund_id=notice.refund_id or payment.refund_id, refunded_at=utcnow()
            ):
                _refund_settled(payment)
                return "applied"
        return "already"


# --- refunds ----------------------------------------------------------------------------------------


def request_refund(case_id: int, reason: str) -> bool:
    """In the caller's transaction: the paid fee of this case is owed back. True if a refund was decided."""
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case_id))
    if choice is None or choice.payment_state != PaymentState.PAID or not choice.paid_payment_id:
        return False
    return _refund_payment(choice.paid_payment_id, reason)


def _refund_payment(payment_id: str, reason: str) -> bool:
    if not _set_status(
        payment_id, PaymentStatus.PAID, PaymentStatus.REFUND_REQUESTED, refund_reason=reason[:200], refund_requested_at=utcnow()
    ):
        return False
    after_commit("express.refund_payment", payment_id)
    return True


def process_refund(payment_id: str) -> str:
    """The task: ask the provider to refund (idempotent by out_refund_no). Raises PaymentError when temporary."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.REFUND_REQUESTED:
        return "nothing_to_do"
    provider, refund_no, amount, reason = payment.provider, payment.refund_no, payment.amount_cents, payment.refund_reason or "退款"
    db.session.rollback()  # no transaction held open while the provider answers
    try:
        result = get_provider(provider).refund(payment_id, refund_no, amount, amount, reason)
    except PaymentError as exc:
        with transaction():
            _set_status(payment_id, PaymentStatus.REFUND_REQUESTED, PaymentStatus.REFUND_REQUESTED, last_error=str(exc))
        if exc.temporary:
            raise
        log.error("refund of payment %s refused: %s", payment_id, exc)
        return "refused"
    with transaction():
        to_status = PaymentStatus.REFUNDED if result.done else PaymentStatus.REFUNDING
        values = {"refund_id": result.refund_id, **({"refunded_at": utcnow()} if result.done else {})}
        if not _set_status(payment_id, PaymentStatus.REFUND_REQUESTED, to_status, **values):
            return "already"
        _refund_settled(db.session.get(Payment, payment_id))
    return "refunded" if result.done else "refunding"


def _refund_settled(payment: Payment) -> None:
    """The provider took the refund: the choice shows ``refunded`` and the citizen is told (once)."""
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == payment.case_id))
    if choice is not None and choice.paid_payment_id == payment.id:
        choice.payment_state = PaymentState.REFUNDED
    touch_case_view(payment.case_id)
    case = delivery_case(payment.case_id)
    tell_citizen(
        case,
        "express.refunded",
        {"amount": yuan(payment.amount_cents), "reason": payment.refund_reason or "退款"},
        dedupe_key=f"express-refund:{payment.id}",
    )


def close_at_provider(payment_id: str) -> str:
    """The task: close a superseded prepay order at the provider, so it can no longer be paid."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.CLOSED or payment.provider == "local":
        return "nothing_to_do"
    provider = payment.provider
    db.session.rollback()
    get_provider(provider).close(payment_id)
    return "closed"


def choice_with_payment(case_no: str, choice: DeliveryChoice, address: dict | None) -> dict:
    payment = db.session.get(Payment, choice.paid_payment_id) if choice.paid_payment_id else None
    if payment is None:
        payment = db.session.scalar(select(Payment).where(Payment.case_id == choice.case_id).order_by(Payment.created_at.desc()).limit(1))
    return choice_view(case_no, choice, address, payment)
