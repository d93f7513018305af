"""Addresses, delivery choices, payments and parcels in a citizen's data export and account closure
(the ``express`` provider).

Exported: the citizen's addresses (unmasked: their own), delivery choices, payments and parcels with
their tracking.

On closure: addresses are erased. Payments stay (financial records the city must keep; they hold no
contact details). A parcel still on its way keeps its recipient details until it arrives — erasing them
would strand a certificate — and counts as a kept record; every other parcel keeps its waybill, route and
fee (the record of a certificate sent) but loses the recipient's name, phone and street.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from express.models import BEFORE_HANDOVER, MOVING, Address, Delivery, DeliveryChoice, Payment
from express.views import events_of
from mobile_api.extensions import db
from mobile_api.personal_data import Subject

ERASED = ""  # recipient fields are NOT NULL: an erased value is the empty string (still encrypted at rest)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_express(subject: Subject) -> dict:
    account_id = subject.account_id
    addresses = db.session.scalars(select(Address).where(Address.account_id == account_id).order_by(Address.created_at)).all()
    choices = db.session.scalars(select(DeliveryChoice).where(DeliveryChoice.account_id == account_id)).all()
    payments = db.session.scalars(select(Payment).where(Payment.account_id == account_id).order_by(Payment.created_at)).all()
    parcels = db.session.scalars(select(Delivery).where(Delivery.account_id == account_id).order_by(Delivery.created_at)).all()
    events = events_of([parcel.id for parcel in parcels])
    return {
        "addresses": [
            {
                "recipient_name": a.recipient_name,
                "phone": a.phone,
                "region": [a.province_name, a.city_name, a.district_name],
                "region_codes": [a.province_code, a.city_code, a.district_code],
                "street": a.street,
                "is_default": a.is_default,
            }
            for a in addresses
        ],
        "delivery_choices": [
            {"case_id": c.case_id, "method": c.method, "courier": c.courier, "fee_cents": c.fee_cents, "payment_state": c.payment_state}
            for c in choices
        ],
        "payments": [
            {"id": p.id, "provider": p.provider, "amount_cents": p.amount_cents, "status": p.status, "paid_at": _iso(p.paid_at)}
            for p in payments
        ],
        "parcels": [
            {
                "id": d.id,
                "direction": d.direction,
                "status": d.status,
                "courier": d.courier,
                "waybill_no": d.waybill_no,
                "person_name": d.person_name,
                "person_phone": d.person_phone,
                "street": d.street,
                "events": [{"time": _iso(e.event_time), "context": e.context} for e in events[d.id]],
            }
            for d in parcels
        ],
    }


def erase_express(subject: Subject, context: dict) -> dict:
    """In the caller's transaction."""
    account_id = subject.account_id
    on_the_way = (*BEFORE_HANDOVER, *MOVING)
    kept_moving = db.session.scalar(
        select(db.func.count()).select_from(Delivery).where(Delivery.account_id == account_id, Delivery.status.in_(on_the_way))
    )
    stripped = db.session.execute(
        update(Delivery)
        .where(Delivery.account_id == account_id, Delivery.status.not_in(on_the_way))
        .values(person_name=ERASED, person_phone=ERASED, street=ERASED)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(DeliveryChoice)
        .where(DeliveryChoice.account_id == account_id)
        .values(address_id=None)
        .execution_options(synchronize_session=False)
    )
    addresses = db.session.execute(delete(Address).where(Address.account_id == account_id)).rowcount
    context["retained_records"] += kept_moving
    return {"erased": {"addresses": addresses, "parcel_recipients": stripped}, "kept": {"parcels_on_the_way": kept_moving}}
