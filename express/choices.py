"""How the citizen wants the certificate of a case: by courier (address, courier, fee) or at the window.

``PUT /api/v1/cases/<case_no>/delivery`` — at application time or any time before the certificate left
the hall. The answer is the fee quote and the payment state. Rules:
- express needs an item that can be delivered and one of the citizen's own addresses (404 otherwise);
- once the fee is paid, a new address or courier must cost the same (else 409: choose pickup, which
  refunds, then choose again); an unpaid checkout is closed when the quote changes;
- choosing pickup refunds a paid fee and cancels a parcel still waiting for its fee;
- a parcel that is being booked or already on its way is not re-routed from here (409): after a failed
  delivery the citizen uses re-delivery instead.
Concurrent changes of one case's choice are serialised on the choice row (a conditional UPDATE first).
"""

from __future__ import annotations

from sqlalchemy import select, update

from auth.models import Account
from cases.fulfilment import DeliveryCase, delivery_case_for_citizen, touch_case_view
from express.addresses import address_view, own_address
from express.billing import choice_with_payment, close_pending_payments, request_refund
from express.booking import ready_to_book
from express.couriers import default_courier, enabled_couriers
from express.fees import quote
from express.models import Address, DeliveryChoice, DeliveryMethod, DeliveryStatus, PaymentState
from express.parcels import cancel_waiting_parcel, default_hall, open_outbound, update_waiting_parcel
from express.regions import resolve
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction


def get_choice(account: Account, case_no: str) -> dict:
    case = delivery_case_for_citizen(account.id, case_no)
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case.id))
    if choice is None:
        raise Problem(404, "delivery_not_chosen", "尚未选择证照领取方式", case_no=case.case_no)
    return _view(case, choice)


def choose_delivery(account: Account, case_no: str, method: str, address_id: str | None, courier: str | None) -> dict:
    with transaction():
        case = delivery_case_for_citizen(account.id, case_no)
        if not case.before_collection:
            raise Problem(409, "delivery_locked", "证照已寄出、已领取或办件已办结，不能再更改领取方式", case_status=case.status)
        choice = _claim_choice(case)
        parcel = open_outbound(case.id)
        if parcel is not None and (parcel.status != DeliveryStatus.CREATED or ready_to_book(parcel)):
            raise Problem(
                409, "delivery_in_progress", "快件已在寄送中，如派送失败可在“我的快递”中选择重新投递或自取", delivery_id=parcel.id
            )
        if method == DeliveryMethod.PICKUP:
            _choose_pickup(case, choice, parcel)
        else:
            _choose_express(account, case, choice, parcel, address_id, courier)
        touch_case_view(case.id)
        return _view(case, choice)


def _claim_choice(case: DeliveryCase) -> DeliveryChoice:
    # INSERT … ON CONFLICT DO NOTHING (one choice per case): two first choices at once go on with the one
    # row. (No SAVEPOINT: on SQLite a savepoint opened before any write commits when it is released.)
    now = utcnow()
    insert_ignoring_conflict(
        DeliveryChoice,
        case_id=case.id,
        account_id=case.account_id,
        method=DeliveryMethod.PICKUP,
        payer=case.delivery_payer,
        hall_id=default_hall(case),
        fee_cents=0,
        quote={},
        created_at=now,
        updated_at=now,
    )
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case.id))
    db.session.execute(
        update(DeliveryChoice)
        .where(DeliveryChoice.id == choice.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(choice)  # as it is now that the row is ours
    return choice


def _choose_pickup(case: DeliveryCase, choice: DeliveryChoice, parcel) -> None:
    if parcel is not None:
        cancel_waiting_parcel(parcel)
    close_pending_payments(case.id)
    refunding = request_refund(case.id, "改为窗口自取，快递费原路退回")
    choice.method, choice.courier, choice.address_id = DeliveryMethod.PICKUP, None, None
    choice.fee_cents, choice.quote = 0, {}
    if not refunding and choice.payment_state not in (PaymentState.PAID, PaymentState.REFUNDED):
        choice.payment_state = None


def _choose_express(
    account: Account, case: DeliveryCase, choice: DeliveryChoice, parcel, address_id: str | None, courier: str | None
) -> None:
    if not case.deliverable:
        raise Problem(409, "not_deliverable", "此事项的证照不能快递寄送，请到大厅领取", item_code=case.item_code)
    if not address_id:
        raise Problem(422, "address_required", "请选择收货地址", errors={"address_id": ["必填"]})
    address: Address = own_address(account.id, address_id)
    couriers = enabled_couriers()
    courier = courier or choice.courier or default_courier()
    if courier not in couriers:
        raise Problem(422, "courier_unavailable", "不支持该快递公司", errors={"courier": couriers})
    region = resolve(address.province_code, address.city_code, address.district_code)
    fee = quote(case, courier, region, setting("EXPRESS_ORIGIN_REGION"))
    if choice.payment_state == PaymentState.PAID:
        if fee.amount_cents != choice.fee_cents:
            raise Problem(
                409,
                "fee_changed_after_payment",
                "快递费已支付，新的地址或快递公司运费不同",
                detail="请先改为窗口自取（已付快递费将原路退回），再重新选择快递寄送。",
                paid=choice.fee_cents,
                quote=fee.as_dict(),
            )
        state = PaymentState.PAID
    else:
        state = fee.payment_state
        if choice.fee_cents != fee.amount_cents or state != PaymentState.UNPAID:
            close_pending_payments(case.id)
    choice.method, choice.address_id, choice.courier = DeliveryMethod.EXPRESS, address.id, courier
    choice.payer, choice.fee_cents, choice.quote, choice.payment_state = fee.payer, fee.amount_cents, fee.as_dict(), state
    if parcel is not None:
        update_waiting_parcel(parcel, choice, address)


def _view(case: DeliveryCase, choice: DeliveryChoice) -> dict:
    address = db.session.get(Address, choice.address_id) if choice.address_id else None
    return choice_with_payment(case.case_no, choice, address_view(address) if address else None)
