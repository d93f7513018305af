"""Read-only views of parcels for the package above (the 12345 hotline): a caller's deliveries with what
happens next. Recipient details stay masked; the caller audits the look-up."""

from __future__ import annotations

from sqlalchemy import select

from cases.fulfilment import case_numbers
from express.models import Delivery, DeliveryStatus
from express.views import delivery_view, events_of
from mobile_api.extensions import db

NEXT_STEPS = {
    DeliveryStatus.CREATED: "大厅正在为证照下单寄递，请耐心等待",
    DeliveryStatus.WAYBILL_BOOKED: "已生成运单，等待大厅交寄",
    DeliveryStatus.HANDED_OVER: "大厅已交寄，等待快递揽收",
    DeliveryStatus.PICKED_UP: "快递已揽收，正在运输",
    DeliveryStatus.IN_TRANSIT: "正在运输，可凭运单号查询物流",
    DeliveryStatus.OUT_FOR_DELIVERY: "快递员正在派送，请保持电话畅通",
    DeliveryStatus.DELIVERED: "已签收",
    DeliveryStatus.EXCEPTION: "派送异常：可在App中申请重新派送或改为到大厅领取",
    DeliveryStatus.REFUSED: "已拒签：可在App中申请重新派送或改为到大厅领取",
    DeliveryStatus.RETURNED: "已退回大厅：可在App中申请重新派送或到大厅领取",
    DeliveryStatus.CANCELLED: "寄递已取消",
}


def deliveries_for_account(account_id: str, limit: int = 20) -> list[dict]:
    """The account's parcels (both directions), newest first, each with its tracking events and next step."""
    parcels = db.session.scalars(
        select(Delivery).where(Delivery.account_id == account_id).order_by(Delivery.created_at.desc(), Delivery.id).limit(limit)
    ).all()
    case_nos = case_numbers({parcel.case_id for parcel in parcels})
    events = events_of([parcel.id for parcel in parcels])
    return [
        delivery_view(parcel, events[parcel.id], case_no=case_nos.get(parcel.case_id))
        | {"next_step": NEXT_STEPS.get(DeliveryStatus(parcel.status), "")}
        for parcel in parcels
    ]
