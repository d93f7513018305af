"""What the citizen reads: their parcels (with tracking), and the region picker."""

from __future__ import annotations

from sqlalchemy import select

from cases.fulfilment import case_numbers
from express import regions
from express.models import Delivery
from express.parcels import own_delivery
from express.views import delivery_view, events_of
from mobile_api.errors import Problem
from mobile_api.pagination import paginate


def my_deliveries(account_id: str, page: int, per_page: int) -> dict:
    """The citizen's parcels, newest first, each with its tracking events (three queries per page)."""
    result = paginate(
        select(Delivery).where(Delivery.account_id == account_id).order_by(Delivery.created_at.desc(), Delivery.id), page, per_page
    )
    case_nos = case_numbers({parcel.case_id for parcel in result.items})
    events = events_of([parcel.id for parcel in result.items])
    items = [delivery_view(parcel, events[parcel.id], case_no=case_nos.get(parcel.case_id)) for parcel in result.items]
    return result.as_dict() | {"items": items}


def my_delivery(account_id: str, delivery_id: str) -> dict:
    parcel = own_delivery(account_id, delivery_id)
    return delivery_view(parcel, events_of([parcel.id])[parcel.id], case_no=case_numbers({parcel.case_id}).get(parcel.case_id))


def regions_below(province: str | None, city: str | None) -> dict:
    """Provinces; a province's cities (a municipality is its own city, 110000); a city's districts
    (empty for a city without districts, such as 东莞 441900)."""
    if city:
        if not any(candidate.code == city for candidate in regions.cities(city[:2] + "0000")):
            raise Problem(404, "region_not_found", "未找到该城市", region_code=city)
        return {"items": _as_dicts(regions.districts(city))}
    if province:
        below = regions.cities(province)
        if not below:
            raise Problem(404, "region_not_found", "未找到该省份", region_code=province)
        return {"items": _as_dicts(below)}
    return {"items": _as_dicts(regions.provinces())}


def _as_dicts(items: list[regions.Region]) -> list[dict]:
    return [{"code": item.code, "name": item.name, "level": item.level} for item in items]
