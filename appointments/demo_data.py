"""Demo halls: the city centre, two district centres and a street hall (embedded default only)."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from appointments.models import Hall, OpeningRule, Window
from mobile_api.extensions import db
from mobile_api.transactions import transaction

HALLS = [
    ("宁波市民服务中心", "city", "宁波市", None, None, "宁波市鄞州区宁东路901号", "0574-12345", 29.8590, 121.6030),
    ("海曙区行政服务中心", "district", "宁波市", "海曙区", None, "宁波市海曙区望春街道望童路85号", "0574-87000000", 29.8797, 121.5010),
    ("江北区行政服务中心", "district", "宁波市", "江北区", None, "宁波市江北区人民路132号", "0574-87600000", 29.8920, 121.5570),
    ("鼓楼街道便民服务中心", "street", "宁波市", "海曙区", "鼓楼街道", "宁波市海曙区中山西路2号", "0574-87300000", 29.8740, 121.5460),
]


def seed_halls() -> list[int]:
    ids = []
    with transaction():
        for name, level, city, district, street, address, phone, lat, lng in HALLS:
            hall = db.session.scalar(select(Hall).where(Hall.name == name))
            if hall is None:
                # Slot release at 08:00 (the default), with shares kept for walk-ins, the elderly and
                # green-channel cases.
                hall = Hall(
                    walk_in_percent=20,
                    elderly_percent=10,
                    green_channel_percent=5,
                    name=name,
                    level=level,
                    city=city,
                    district=district,
                    street=street,
                    address=address,
                    phone=phone,
                    latitude=lat,
                    longitude=lng,
                )
                db.session.add(hall)
                db.session.flush()
            ids.append(hall.id)
            _seed_windows_and_hours(hall, level)
    return ids


# Windows (综合窗口 style: each serves a group of items) and hours: 9:00–17:00, lunch 12:00–13:30.
WINDOW_ITEMS = {
    "公安": ["330200-GA-001", "330200-GA-002", "330200-GA-003", "330200-GA-005"],
    "不动产": ["330200-ZRZY-001", "330200-ZRZY-002", "330200-ZRZY-003", "330200-GJJ-001", "330200-GJJ-002"],
    "综合": [
        "330200-SCJG-001",
        "330200-RS-001",
        "330200-RS-003",
        "330200-MZ-001",
        "330200-WJ-001",
        "330200-JT-001",
        "330200-GA-001",
        "330200-GA-002",
    ],
}
WINDOWS_PER_GROUP = {"city": 3, "district": 2, "street": 1}


def _seed_windows_and_hours(hall: Hall, level: str) -> None:
    if db.session.scalar(select(Window.id).where(Window.hall_id == hall.id).limit(1)) is None:
        number = 0
        for group, codes in WINDOW_ITEMS.items():
            for _ in range(WINDOWS_PER_GROUP[level]):
                number += 1
                db.session.add(Window(hall_id=hall.id, name=f"{number}号窗口（{group}）", item_codes=codes, per_slot=1))
    if db.session.scalar(select(OpeningRule.id).where(OpeningRule.hall_id == hall.id).limit(1)) is None:
        for weekday in range(5):
            db.session.add(
                OpeningRule(
                    hall_id=hall.id,
                    weekday=weekday,
                    opens=time(9),
                    closes=time(17),
                    break_start=time(12),
                    break_end=time(13, 30),
                    slot_minutes=30,
                )
            )


def seed_demo(context: dict) -> str:
    context["hall_ids"] = seed_halls()
    return f"appointments: {len(context['hall_ids'])} halls"
