"""What every courier adapter takes and gives back (see ``express.couriers`` for the contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Party:
    """One end of a parcel as a courier wants it: names, not codes."""

    name: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    company: str = ""


@dataclass(frozen=True)
class BookingRequest:
    order_ref: str  # our delivery id: the courier's order reference
    sender: Party
    recipient: Party
    pay_method: str  # "account" (our monthly account) | "sender" (the sender pays at pickup) | "recipient" (到付)
    cod_cents: int = 0  # the freight the recipient pays at the door, for the label
    pickup: bool = False  # send a courier to the sender's address (上门取件)
    description: str = "证照文件"


@dataclass(frozen=True)
class Booking:
    waybill_no: str
    raw: dict = field(default_factory=dict)


class CourierError(Exception):
    """A booking the courier did not make. ``temporary``: worth trying again later; ``code``: the courier's."""

    def __init__(self, message: str, *, temporary: bool, code: str = "") -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code


class Courier(Protocol):
    name: str
    name_zh: str
    kuaidi100_code: str  # the company code Kuaidi100 uses ("" when Kuaidi100 does not track it)

    def book(self, request: BookingRequest) -> Booking: ...


COURIER_NAMES = {"sf": "顺丰速运", "ems": "中国邮政EMS", "local": "同城快递（演示）"}
