"""Express tables: citizens' addresses, the delivery chosen for a case and its fee payment, parcels
(delivery orders, both directions) and their tracking events.

Invariants kept by the database, not by process memory:
- a case has at most one delivery choice (unique ``case_id``);
- a courier's waybill number belongs to one parcel (unique ``courier, waybill_no``);
- a tracking event is stored once per parcel (unique ``delivery_id, fingerprint``: time + text), so a
  push that repeats, or carries the whole history again, adds nothing;
- a payment is applied once: its status moves by conditional UPDATEs (``WHERE status = 'pending'``), and
  a provider's transaction id is unique.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText
from mobile_api.timeutil import UTCDateTime, utcnow


class DeliveryMethod(StrEnum):
    EXPRESS = "express"  # 快递寄送
    PICKUP = "pickup"  # 窗口自取


class PaymentState(StrEnum):
    """What the citizen sees of the delivery fee."""

    UNPAID = "unpaid"
    PAID = "paid"
    GOVERNMENT_PAID = "government_paid"  # free to the citizen (the item says so, or the fee is 0)
    COD = "cod"  # paid to the courier at the door (到付)
    REFUNDED = "refunded"


class PaymentStatus(StrEnum):
    """One payment attempt at a provider (a citizen may start several; one at most is paid)."""

    PENDING = "pending"  # ordered at the provider, not paid yet
    PAID = "paid"
    CLOSED = "closed"  # superseded (new quote) or abandoned before it was paid
    REFUND_REQUESTED = "refund_requested"  # decided in our transaction; the task asks the provider
    REFUNDING = "refunding"  # the provider accepted the refund and is processing it
    REFUNDED = "refunded"


class Direction(StrEnum):
    OUTBOUND = "outbound"  # the hall sends a certificate to the citizen
    INBOUND = "inbound"  # a courier picks paper originals up at the citizen's and brings them to the hall


class DeliveryStatus(StrEnum):
    """A parcel's journey. Up to ``handed_over`` we set it; after that it follows the tracking events,
    by event time: the newest event that says where the parcel is decides."""

    CREATED = "created"  # ordered in our system; the waybill is being booked
    WAYBILL_BOOKED = "waybill_booked"  # the courier gave a waybill number
    HANDED_OVER = "handed_over"  # the hall handed the parcel to the courier (waybill scanned)
    PICKED_UP = "picked_up"  # 揽收
    IN_TRANSIT = "in_transit"  # 在途
    OUT_FOR_DELIVERY = "out_for_delivery"  # 派件
    DELIVERED = "delivered"  # 签收
    EXCEPTION = "exception"  # 疑难 / 派件异常
    REFUSED = "refused"  # 拒签
    RETURNED = "returned"  # 退回 / 退签
    CANCELLED = "cancelled"  # the citizen chose pickup before it was booked, or it was replaced


# Named groups of statuses: what the rules ask about a parcel.
BEFORE_HANDOVER = (DeliveryStatus.CREATED, DeliveryStatus.WAYBILL_BOOKED)
MOVING = (DeliveryStatus.HANDED_OVER, DeliveryStatus.PICKED_UP, DeliveryStatus.IN_TRANSIT, DeliveryStatus.OUT_FOR_DELIVERY)
PROBLEM_STATUSES = (DeliveryStatus.EXCEPTION, DeliveryStatus.REFUSED, DeliveryStatus.RETURNED)
FINAL_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.RETURNED, DeliveryStatus.CANCELLED)
TRACKED = (DeliveryStatus.WAYBILL_BOOKED, *MOVING, DeliveryStatus.EXCEPTION, DeliveryStatus.REFUSED)  # tracking still expected


def new_address_id() -> str:
    return uuid.uuid4().hex


def new_delivery_id() -> str:
    """``EX`` + 22 upper-case hex digits: our order reference at the courier (SF allows 64 characters)."""
    return "EX" + secrets.token_hex(11).upper()


def new_payment_id() -> str:
    """The merchant order number (out_trade_no: 6–32 characters of [0-9A-Za-z_-|*])."""
    return "PAY" + secrets.token_hex(12).upper()


class Address(db.Model):
    """A citizen's delivery address. Name, mobile and street are encrypted; the region is coarse and kept
    in clear because fees and routing depend on it."""

    __tablename__ = "express_addresses"
    __table_args__ = (
        # At most one default address per citizen, kept by the database.
        Index(
            "uq_express_addresses_one_default",
            "account_id",
            unique=True,
            postgresql_where=text("is_default"),
            sqlite_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_address_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    recipient_name: Mapped[str] = mapped_column(EncryptedText("express.address.name"))
    phone: Mapped[str] = mapped_column(EncryptedText("express.address.phone"))
    province_code: Mapped[str] = mapped_column(String(6))
    province_name: Mapped[str] = mapped_column(String(32))
    city_code: Mapped[str] = mapped_column(String(6))
    city_name: Mapped[str] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(6))
    district_name: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(EncryptedText("express.address.street"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DeliveryChoice(db.Model):
    """How the citizen wants the certificate of one case: by courier (to which address, with which courier,
    for what fee, paid how) or at the window."""

    __tablename__ = "express_delivery_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    address_id: Mapped[str | None] = mapped_column(ForeignKey("express_addresses.id", ondelete="SET NULL"))
    courier: Mapped[str | None] = mapped_column(String(16))
    payer: Mapped[str] = mapped_column(String(16))  # cases.models.DeliveryPayer
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    quote: Mapped[dict] = mapped_column(JSON, default=dict)  # how the fee was reached (zone, tariff, item rule)
    payment_state: Mapped[str | None] = mapped_column(String(16))  # None: pickup, nothing to pay
    paid_payment_id: Mapped[str | None] = mapped_column(String(32))
    hall_id: Mapped[int | None] = mapped_column(Integer)  # the hall that sends (outbound) — a halls.id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Payment(db.Model):
    """A delivery fee payment at a provider (``local`` sandbox or WeChat Pay); ``id`` is our out_trade_no."""

    __tablename__ = "express_payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_payment_id)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING, index=True)
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refund_reason: Mapped[str | None] = mapped_column(String(200))
    refund_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refund_id: Mapped[str | None] = mapped_column(String(64))
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def refund_no(self) -> str:
        """Our out_refund_no: one per payment, so asking twice never refunds twice."""
        return f"{self.id}R"


class Delivery(db.Model):
    """One parcel (运单), outbound (certificate to the citizen) or inbound (paper originals to the hall).

    ``id`` is the courier's order reference: booking the same id twice gives the same waybill. The
    citizen's name, phone and street are a snapshot taken when the parcel was ordered (encrypted), so
    editing or deleting an address later does not change where a parcel goes.
    """

    __tablename__ = "express_deliveries"
    __table_args__ = (
        UniqueConstraint("courier", "waybill_no", name="uq_express_deliveries_courier_waybill"),
        Index("ix_express_deliveries_status_activity", "status", "last_activity_at"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_delivery_id)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.CREATED)
    courier: Mapped[str] = mapped_column(String(16))
    waybill_no: Mapped[str | None] = mapped_column(String(40))
    hall_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payer: Mapped[str] = mapped_column(String(16))
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    cod_cents: Mapped[int] = mapped_column(Integer, default=0)  # to collect at the door (到付)
    material_codes: Mapped[list] = mapped_column(JSON, default=list)  # inbound: the originals in the parcel
    # The citizen's side of the parcel (recipient outbound, sender inbound), a snapshot.
    person_name: Mapped[str] = mapped_column(EncryptedText("express.delivery.name"))
    person_phone: Mapped[str] = mapped_column(EncryptedText("express.delivery.phone"))
    province_code: Mapped[str] = mapped_column(String(6))
    province_name: Mapped[str] = mapped_column(String(32))
    city_code: Mapped[str] = mapped_column(String(6))
    city_name: Mapped[str] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(6))
    district_name: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(EncryptedText("express.delivery.street"))
    # Booking (the task): attempts, when to try next, why it failed; ``booking_failed`` after the last try.
    booking_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_booking_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booking_error: Mapped[str | None] = mapped_column(Text)
    booking_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # tracking subscription (Kuaidi100 poll)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_over_by: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # inbound: the hall confirmed receipt
    received_by: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The newest tracking event (by event time) and when anything last happened to the parcel at all;
    # the stale-parcel job asks the courier about parcels whose last activity is too old.
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    problem: Mapped[str | None] = mapped_column(Text)  # what went wrong (exception / refused / returned)
    tracking_note: Mapped[str | None] = mapped_column(String(200))  # e.g. Kuaidi100 "abort" message
    replaces_id: Mapped[str | None] = mapped_column(String(24))  # a re-delivery: the parcel it replaces
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TrackingEvent(db.Model):
    """One step of a parcel's route, from a Kuaidi100 push, a query, or the local courier."""

    __tablename__ = "express_tracking_events"
    __table_args__ = (UniqueConstraint("delivery_id", "fingerprint", name="uq_express_tracking_events_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("express_deliveries.id", ondelete="CASCADE"), index=True)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    context: Mapped[str] = mapped_column(Text)
    courier_status: Mapped[str | None] = mapped_column(String(32))  # as the courier / Kuaidi100 said it
    state: Mapped[str | None] = mapped_column(String(20))  # our DeliveryStatus, when the event says one
    area_code: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
