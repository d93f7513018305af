"""The ``local`` courier of the embedded default: no network, a waybill derived from the order reference
(so booking twice gives the same waybill, as with a real courier), and a scripted journey that the
``express.advance_local`` beat job plays one step at a time once the hall has handed the parcel over.
"""

from __future__ import annotations

import hashlib

from express.couriers.base import Booking, BookingRequest
from express.models import DeliveryStatus

# The journey after handover: (state reached, what the courier's scan says). Inbound parcels start at
# the citizen's door (picked up by the courier) and end at the hall.
OUTBOUND_JOURNEY = (
    (DeliveryStatus.PICKED_UP, "【{origin}】快递员已揽收"),
    (DeliveryStatus.IN_TRANSIT, "快件已从【{origin}】发出，发往【{destination}】"),
    (DeliveryStatus.IN_TRANSIT, "快件已到达【{destination}】集散中心"),
    (DeliveryStatus.OUT_FOR_DELIVERY, "【{destination}】快递员正在派件，请保持电话畅通"),
    (DeliveryStatus.DELIVERED, "快件已签收，签收人：本人。感谢使用同城快递"),
)
INBOUND_JOURNEY = (
    (DeliveryStatus.PICKED_UP, "快递员已上门揽收【{origin}】"),
    (DeliveryStatus.IN_TRANSIT, "快件已从【{origin}】发出，发往【{destination}】"),
    (DeliveryStatus.OUT_FOR_DELIVERY, "【{destination}】快递员正在派件"),
    (DeliveryStatus.DELIVERED, "快件已送达服务大厅，签收人：大厅收件室"),
)


def waybill_for(order_ref: str) -> str:
    digits = int(hashlib.sha256(order_ref.encode()).hexdigest(), 16) % 10**12
    return f"LC{digits:012d}"


class LocalCourier:
    name = "local"
    name_zh = "同城快递（演示）"
    kuaidi100_code = ""  # not tracked by Kuaidi100: its events come from the beat job

    def book(self, request: BookingRequest) -> Booking:
        return Booking(waybill_no=waybill_for(request.order_ref), raw={"orderId": request.order_ref})


def next_step(journey: tuple, steps_done: int) -> tuple[DeliveryStatus, str] | None:
    """The step after ``steps_done`` scans, or None at the end of the journey."""
    return journey[steps_done] if steps_done < len(journey) else None
