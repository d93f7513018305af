"""Courier adapters: book a waybill for a parcel, with our delivery id as the courier's order reference.

``sf`` (SF Express open platform), ``ems`` (China Post EMS) and ``local`` (the embedded default: no
network; the ``express.advance_local`` beat job moves its parcels along so a demo shows the journey).
Every HTTP adapter takes its ``requests.Session`` from ``mobile_api.http.outbound_session()``.

The contract that makes a retried booking safe: booking the same ``order_ref`` twice returns the same
waybill (the courier keeps one order per reference; SF answers a repeated order id with that order, or
with "duplicate order", after which the adapter looks the order up). ``CourierError.temporary`` tells
the task whether to try again later (network, rate limit, the courier's own failure) or to give up and
tell the hall (an address the courier does not serve, a rejected account).
"""

from __future__ import annotations

from express.couriers.base import COURIER_NAMES, Booking, BookingRequest, Courier, CourierError, Party
from express.couriers.ems import EMSCourier
from express.couriers.local import LocalCourier
from express.couriers.sf import SFCourier
from mobile_api.errors import Problem
from mobile_api.settings import setting

__all__ = [
    "COURIER_NAMES",
    "Booking",
    "BookingRequest",
    "Courier",
    "CourierError",
    "Party",
    "default_courier",
    "enabled_couriers",
    "get_courier",
]

_ADAPTERS = {"sf": SFCourier, "ems": EMSCourier, "local": LocalCourier}


def enabled_couriers() -> list[str]:
    """The couriers citizens may choose (``EXPRESS_COURIERS``, comma-separated; the first is the default).

    ``local`` is a simulation (its parcels "arrive" on a timer): it is offered in sandbox mode only, so a
    production deployment that configured no courier offers none rather than a pretend one."""
    names = [name.strip() for name in setting("EXPRESS_COURIERS").split(",") if name.strip() in _ADAPTERS]
    return [name for name in names if name != "local" or setting("SANDBOX_MODE")]


def default_courier() -> str:
    couriers = enabled_couriers()
    if not couriers:
        raise Problem(409, "express_unavailable", "暂未开通快递寄送，请选择到大厅领取")
    return couriers[0]


def get_courier(name: str) -> Courier:
    try:
        return _ADAPTERS[name]()
    except KeyError:
        raise ValueError(f"unknown courier {name!r}") from None
