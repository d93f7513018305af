"""Statements per request on the rush's endpoints — counts, not timings, so a regression fails CI.

Availability is served from the plan read model (``appointments.plan_cache``): once a process knows a
hall's plan, an answer is two statements (the plan version, the slot rows). The plan must never be
stale: an admin change on any process, a booking or a cancellation shows in the next answer.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mobile_api.extensions import db
from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots
from tests.support import counted_queries

WARM_AVAILABILITY = 2  # plan version + slot rows
BOOKING_CEILING = 17  # token, account, Idempotency-Key claim and answer, checks, outbox, inbox, rows, lock (PG), take, booking, publish
SLOT_FULL_CEILING = 10  # a refusal writes nothing but the Idempotency-Key claim and its release; alternatives from the read model


def _availability(client, hall_id: int) -> dict:
    response = client.get(f"/api/v1/halls/{hall_id}/availability", query_string={"item_code": ITEM})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _remaining(answer: dict, start: str) -> int:
    return next(slot["remaining"] for day in answer["days"] for slot in day["slots"] if slot["start"] == start)


def _book(client, citizen: dict, hall_id: int, start: str):
    headers = {**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex}
    return client.post("/api/v1/appointments", json={"hall_id": hall_id, "item_code": ITEM, "start": start}, headers=headers)


def test_availability_is_two_statements_once_the_plan_is_known(app, app_context, client):
    hall = create_hall()
    with counted_queries(app) as cold:
        _availability(client, hall["id"])
    with counted_queries(app) as warm:
        _availability(client, hall["id"])
    assert len(warm) == WARM_AVAILABILITY, warm
    assert len(cold) > len(warm)


def test_a_booking_and_a_cancellation_show_in_the_next_answer(app, app_context, client):
    hall = create_hall(windows=2)
    start = first_free_slots(client, hall["id"])[0]["start"]
    assert _remaining(_availability(client, hall["id"]), start) == 2
    citizen = create_citizen()
    booked = _book(client, citizen, hall["id"], start)
    assert booked.status_code == 201, booked.get_json()
    assert _remaining(_availability(client, hall["id"]), start) == 1
    # The rows of the slot time exist now: the next booking of that time is the steady-state cost.
    second, third = create_citizen(), create_citizen()
    with counted_queries(app) as statements:
        assert _book(client, second, hall["id"], start).status_code == 201
    assert len(statements) <= BOOKING_CEILING, len(statements)
    assert _remaining(_availability(client, hall["id"]), start) == 0
    with counted_queries(app) as statements:
        full = _book(client, third, hall["id"], start)
    assert full.status_code == 409 and full.get_json()["code"] == "slot_full" and full.get_json()["alternatives"]
    assert len(statements) <= SLOT_FULL_CEILING, "\n".join(s[:100] for s in statements)
    cancelled = client.post(f"/api/v1/appointments/{booked.get_json()['id']}/cancel", headers=citizen["headers"])
    assert cancelled.status_code == 200, cancelled.get_json()
    # A cancelled place is held back for a while (APPOINTMENTS_RELEASE_DELAY_MINUTES) or offered to the
    # waitlist; either way availability must follow the row, which it reads live.
    from appointments.models import Slot

    rows = db.session.scalars(select(Slot).where(Slot.window_id.in_(hall["windows"]))).all()
    free = sum(max(0, row.capacity - row.booked - row.held - row.reserve_walk_in - row.reserve_elderly - row.reserve_green) for row in rows)
    assert _remaining(_availability(client, hall["id"]), start) == free


def test_an_admin_change_made_by_another_process_shows_at_once(app, app_context, client):
    """Two app instances on one database (as two web processes): each has the plan in memory; a window
    change committed through the other one is in this one's very next answer."""
    from appointments.models import Window
    from mobile_api import create_app

    hall = create_hall(windows=2)
    start = first_free_slots(client, hall["id"])[0]["start"]
    assert _remaining(_availability(client, hall["id"]), start) == 2
    other = create_app()
    with other.app_context():
        other_client = other.test_client()
        assert _remaining(_availability(other_client, hall["id"]), start) == 2
        window = db.session.get(Window, hall["windows"][0])
        window.per_slot = 5  # what a hall manager's edit does
        db.session.commit()
        assert _remaining(_availability(other_client, hall["id"]), start) == 6
    assert _remaining(_availability(client, hall["id"]), start) == 6
    with counted_queries(app) as warm:
        _availability(client, hall["id"])
    assert len(warm) == WARM_AVAILABILITY


def test_the_prerendered_answer_is_what_the_documented_schema_dumps(app_context, client):
    """Availability skips marshmallow on its hot path; the JSON must still be exactly what
    ``AvailabilitySchema`` (the OpenAPI document's schema) would produce."""
    from appointments.schemas import AvailabilitySchema

    hall = create_hall(windows=2)
    body = _availability(client, hall["id"])
    assert body["days"] and any(day["slots"] for day in body["days"])
    schema = AvailabilitySchema()
    assert schema.dump(schema.load(body)) == body
