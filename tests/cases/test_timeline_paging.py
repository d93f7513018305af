"""A long timeline pages: the case view carries the newest events, ``…/timeline`` pages through all."""

from __future__ import annotations

from sqlalchemy import select

from cases.models import Case
from mobile_api.extensions import db
from mobile_api.models import AuditEvent
from tests.cases.conftest import new_case
from tests.support import bearer, sign_in_level2


def _add_events(app, case_no: str, count: int) -> None:
    from cases.clock import today
    from cases.timeline import add_event
    from mobile_api.transactions import transaction

    with app.app_context(), transaction():
        case = db.session.scalar(select(Case).where(Case.case_no == case_no))
        for n in range(count):
            add_event(case, "staff:officer", "note", case.status, case.status, on=today(), note=f"进展{n}")
        add_event(case, "staff:officer", "note", case.status, case.status, on=today(), visible=False, internal_note="内部")


def test_the_case_view_is_bounded_and_the_timeline_pages(app, client, citizen, staff):
    token = citizen["access_token"]
    case_no = new_case(client, token)
    _add_events(app, case_no, 650)

    view = client.get(f"/api/v1/cases/{case_no}", headers=bearer(token))
    body = view.get_json()
    limit = app.config["CASES_TIMELINE_IN_DETAIL"]
    assert len(body["timeline"]) == limit and body["timeline_total"] == 651  # created + 650 notes; the internal one is not counted
    assert body["timeline"][-1]["note"] == "进展649" and len(view.data) < 30_000

    seen, page = [], 1
    while True:
        response = client.get(f"/api/v1/cases/{case_no}/timeline", query_string={"page": page, "per_page": 100}, headers=bearer(token))
        assert response.status_code == 200
        items = response.get_json()["items"]
        if not items:
            break
        seen += items
        page += 1
    assert len(seen) == 651 and seen[0]["note"] == "进展649" and all("internal_note" not in item for item in seen)

    other = sign_in_level2(app, client)
    assert client.get(f"/api/v1/cases/{case_no}/timeline", headers=bearer(other["access_token"])).status_code == 404

    staff_page = client.get(
        f"/api/v1/staff/cases/{case_no}/timeline", query_string={"per_page": 5, "reason": "核查"}, headers=bearer(staff["supervisor"])
    )
    assert staff_page.status_code == 200 and staff_page.get_json()["total"] == 652
    assert staff_page.get_json()["items"][0]["internal_note"] == "内部"
    with app.app_context():
        audited = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.timeline.read", AuditEvent.subject_id == case_no))
    assert audited is not None and audited.reason == "核查"
