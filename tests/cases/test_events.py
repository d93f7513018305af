"""``cases.events.case_status_changed``: what packages above cases (express, hotline) subscribe to."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from cases.events import case_status_changed
from cases.models import Case, CaseEvent
from mobile_api.errors import Problem
from mobile_api.extensions import db
from tests.cases.conftest import accepted_case, act
from tests.cases.helpers import city_date


def test_every_status_change_is_signalled_in_the_same_transaction(app, client, citizen, staff):
    seen: list[dict] = []

    def receiver(case, *, event, from_status, to_status):
        # Inside the transaction: the event row is flushed (it has an id) but not committed yet.
        seen.append({"case_no": case.case_no, "event_id": event.id, "action": event.action, "from": from_status, "to": to_status})

    case_status_changed.connect(receiver)
    try:
        case_no = accepted_case(app, client, citizen["access_token"], staff, date(2026, 10, 12))
        with city_date(app, date(2026, 10, 13)):
            assert act(client, staff["officer"], case_no, "note", internal_note="不改变状态").status_code == 200
    finally:
        case_status_changed.disconnect(receiver)
    mine = [(s["action"], s["from"], s["to"]) for s in seen if s["case_no"] == case_no]
    # A note changes no status: no signal. Creation (None → draft) is a change.
    assert mine == [
        ("create", None, "draft"),
        ("submit", "draft", "prereview_pending"),
        ("prereview_pass", "prereview_pending", "prereview_passed"),
        ("accept", "prereview_passed", "accepted"),
    ]
    assert all(s["event_id"] for s in seen)


def test_a_receiver_that_refuses_stops_the_change(app, client, citizen, staff):
    case_no = accepted_case(app, client, citizen["access_token"], staff, date(2026, 10, 12))

    def refuse(case, *, event, from_status, to_status):
        if case.case_no == case_no and to_status == "in_progress":
            raise Problem(409, "refused_by_subscriber", "测试：订阅方拒绝")

    case_status_changed.connect(refuse)
    try:
        with city_date(app, date(2026, 10, 13)):
            refused = act(client, staff["officer"], case_no, "start")
    finally:
        case_status_changed.disconnect(refuse)
    assert refused.status_code == 409 and refused.get_json()["code"] == "refused_by_subscriber"
    with app.app_context():
        assert db.session.scalar(select(Case.status).where(Case.case_no == case_no)) == "accepted"
        actions = db.session.scalars(select(CaseEvent.action).join(Case).where(Case.case_no == case_no)).all()
        assert "start" not in actions
    with city_date(app, date(2026, 10, 13)):
        assert act(client, staff["officer"], case_no, "start").get_json()["status"] == "in_progress"
