"""Demo halls: the city centre, two district centres and a street hall (embedded default only)."""

from __future__ import annotations

from sqlalchemy import select

from appointments.models import Hall
from mobile_api.extensions import db

HALLS = [
    ("宁波市民服务中心", "city", "宁波市", None, None, "宁波市鄞州区宁东路901号", "0574-12345", 29.8590, 121.6030),
    ("海曙区行政服务中心", "district", "宁波市", "海曙区", None, "宁波市海曙区望春街道望童路85号", "0574-87000000", 29.8797, 121.5010),
    ("江北区行政服务中心", "district", "宁波市", "江北区", None, "宁波市江北区人民路132号", "0574-87600000", 29.8920, 121.5570),
    ("鼓楼街道便民服务中心", "street", "宁波市", "海曙区", "鼓楼街道", "宁波市海曙区中山西路2号", "0574-87300000", 29.8740, 121.5460),
]


def seed_halls() -> list[int]:
    ids = []
    for name, level, city, district, street, address, phone, lat, lng in HALLS:
        hall = db.session.scalar(select(Hall).where(Hall.name == name))
        if hall is None:
            hall = Hall(name=name, level=level, city=city, district=district, street=street, address=address, phone=phone, latitude=lat, longitude=lng)
            db.session.add(hall)
            db.session.flush()
        ids.append(hall.id)
    db.session.commit()
    return ids
