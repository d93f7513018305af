"""Fixtures for appointments: a fresh hall per test, level-2 citizens, a clerk for that hall.

Test halls are written directly (quick, one commit); the hall administration API is exercised in
tests/appointments/test_hall_admin.py. Everything else goes through the HTTP API or the service
functions the beat jobs call.
"""

from __future__ import annotations

import random
import uuid
from datetime import time

import pytest
from sqlalchemy import select

from tests.support import bearer, random_name, staff_token, unique_phone

ITEM = "330200-MZ-001"  # 内地居民结婚登记: bookable, served by the demo "综合" windows


def create_hall(windows: int = 2, item_code: str = ITEM, weekdays=range(5), per_window: int = 1, items: list[str] | None = None) -> dict:
    """A hall of its own, open Mon–Fri 9:00–17:00 (lunch 12:00–13:30), 30-minute slots; ``windows``
    windows each serving ``items`` (default: ``item_code`` alone), ``per_window`` citizens a slot."""
    items = items or [item_code]
    from appointments.models import Hall, OpeningRule, Window
    from cases.models import ServiceItem
    from mobile_api.extensions import db

    hall = Hall(
        name=f"测试大厅{uuid.uuid4().hex[:6]}",
        level="street",
        city="宁波市",
        district="海曙区",
        street="测试街道",
        address="宁波市海曙区测试路1号",
        phone=None,
        latitude=29.87 + random.random() / 100,
        longitude=121.54,
    )
    db.session.add(hall)
    db.session.flush()
    window_ids = []
    for number in range(1, windows + 1):
        window = Window(hall_id=hall.id, name=f"{number}号窗口", item_codes=list(items), per_slot=per_window)
        db.session.add(window)
        db.session.flush()
        window_ids.append(window.id)
    for weekday in weekdays:
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
    for item in db.session.scalars(select(ServiceItem).where(ServiceItem.code.in_(items))):
        item.hall_ids = [*item.hall_ids, hall.id]
    db.session.commit()
    return {"id": hall.id, "windows": window_ids, "item": item_code}


def create_citizen(level: int = 2, born: int | None = None) -> dict:
    """A citizen account at ``level`` and a fresh access token."""
    from stdnum.cn import ric

    from auth.models import Account
    from auth.tokens import issue_tokens
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db
    from mobile_api.pii import blind_index

    born = born or random.randrange(1965, 2005)  # under 70 unless asked: the elderly go first in the queue
    if born:
        base = f"110105{born}{random.randrange(1, 13):02d}{random.randrange(1, 29):02d}{random.randrange(1000):03d}"
        id_number = base + ric.calc_check_digit(base + "0")
    account = Account(phone=unique_phone(), level=level)
    if level >= 2:
        account.name, account.id_number, account.id_number_index = random_name(), id_number, blind_index(id_number, "id_number")
    db.session.add(account)
    db.session.flush()
    pair = issue_tokens(CITIZEN, account.id)
    db.session.commit()
    return {"id": account.id, "token": pair.access_token, "headers": bearer(pair.access_token)}


@pytest.fixture()
def hall(app_context):
    return create_hall()


@pytest.fixture()
def citizen(app_context):
    return create_citizen()


@pytest.fixture()
def clerk(app, client, hall):
    """A window clerk working in ``hall`` only."""
    from auth.service import create_staff
    from mobile_api.roles import WINDOW_CLERK

    username = f"clerk{uuid.uuid4().hex[:8]}"
    create_staff(username, app.config["DEMO_PASSWORD"], [WINDOW_CLERK], "测试窗口", ["MZ"], [hall["id"]])
    return bearer(staff_token(client, username, app.config["DEMO_PASSWORD"]))


def first_free_slots(client, hall_id: int, item_code: str = ITEM, count: int = 1) -> list[dict]:
    response = client.get(f"/api/v1/halls/{hall_id}/availability", query_string={"item_code": item_code})
    assert response.status_code == 200, response.get_json()
    free = [slot for day in response.get_json()["days"] for slot in day["slots"] if slot["remaining"] > 0]
    assert len(free) >= count
    return free[:count]
