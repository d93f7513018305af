"""Supervision: colours and warnings once per colour change, the Celery task, stats, overdue lists."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from cases.models import Case, SupervisionWarning
from cases.supervision import scan_deadlines
from mobile_api.celery_app import celery
from mobile_api.extensions import db
from tests.cases.conftest import SIMPLE_MATERIALS, accepted_case, act, new_case, upload
from tests.cases.helpers import city_date, pdf_bytes
from tests.support import bearer, wait_for


def _warnings(app, case_no: str) -> list[tuple[str, str, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(SupervisionWarning.colour, SupervisionWarning.role, SupervisionWarning.colour_change)
            .where(SupervisionWarning.case_no == case_no)
            .order_by(SupervisionWarning.id)
        ).all()
        return [tuple(row) for row in rows]


def _colour(app, case_no: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Case.colour).where(Case.case_no == case_no))


def _scan(app, on: date) -> None:
    with app.app_context():
        scan_deadlines(on)
        db.session.remove()


def test_colours_change_and_warn_once_per_change(app, client, citizen, staff):
    # Accepted Mon 14 Sep 2026, 7 working days → Tue 22 Sep (Sun 20 Sep is a 调休 working day).
    case_no = accepted_case(app, client, citizen["access_token"], staff, date(2026, 9, 14))
    assert client.get(f"/api/v1/cases/{case_no}", headers=bearer(citizen["access_token"])).get_json()["due_on"] == "2026-09-22"

    _scan(app, date(2026, 9, 18))  # 3 working days left: green
    assert _colour(app, case_no) == "green" and _warnings(app, case_no) == []
    _scan(app, date(2026, 9, 20))  # 2 left: yellow, the officer is warned
    _scan(app, date(2026, 9, 20))
    assert _colour(app, case_no) == "yellow" and _warnings(app, case_no) == [("yellow", "officer", 1)]

    # Two workers scanning at once raise the red warnings exactly once.
    threads = [threading.Thread(target=_scan, args=(app, date(2026, 9, 23))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _colour(app, case_no) == "red"
    assert _warnings(app, case_no) == [("yellow", "officer", 1), ("red", "officer", 2), ("red", "supervisor", 2)]

    # An approved extension turns it green again; running late again warns again.
    with city_date(app, date(2026, 9, 23)):
        assert act(client, staff["officer"], case_no, "extend", days=5, note="现场核查").status_code == 403
        extended = act(client, staff["supervisor"], case_no, "extend", days=5, note="需现场核查，经批准延期")
    assert extended.status_code == 200 and extended.get_json()["due_on"] == "2026-09-30" and extended.get_json()["extended_days"] == 5
    _scan(app, date(2026, 9, 23))
    assert _colour(app, case_no) == "green"
    _scan(app, date(2026, 9, 28))
    assert _warnings(app, case_no)[-1] == ("yellow", "officer", 4)

    warnings = client.get(
        "/api/v1/staff/supervision/warnings", query_string={"per_page": 100}, headers=bearer(staff["supervisor"])
    ).get_json()
    assert {(w["colour"], w["role"]) for w in warnings["items"] if w["case_no"] == case_no} >= {
        ("red", "supervisor"),
        ("yellow", "officer"),
    }


def test_beat_task_runs_on_the_worker_and_overdue_filter(app, client, citizen, staff, celery_worker):
    # Due Tue 22 Sep 2026; the worker uses the real date, which is later: red.
    case_no = accepted_case(app, client, citizen["access_token"], staff, date(2026, 9, 14))
    assert _colour(app, case_no) == "green"
    with app.app_context():
        celery.send_task("cases.scan_deadlines")
    wait_for(lambda: _colour(app, case_no) == "red", timeout=60, what="the worker's deadline scan")

    overdue = client.get(
        "/api/v1/staff/cases", query_string={"overdue": "true", "per_page": 100}, headers=bearer(staff["officer"])
    ).get_json()
    assert case_no in [item["case_no"] for item in overdue["items"]]
    on_time = client.get(
        "/api/v1/staff/cases", query_string={"overdue": "false", "per_page": 100}, headers=bearer(staff["officer"])
    ).get_json()
    assert case_no not in [item["case_no"] for item in on_time["items"]]


def test_stats_for_a_period(app, client, citizen, staff, celery_worker):
    token = citizen["access_token"]
    # A: accepted Mon 3 Mar 2025, passed pre-review first time, approved Wed 5 Mar (2 working days, on time).
    first = accepted_case(app, client, token, staff, date(2025, 3, 3))
    with city_date(app, date(2025, 3, 5)):
        assert act(client, staff["officer"], first, "start").status_code == 200
        assert act(client, staff["officer"], first, "approve").status_code == 200
    # B: returned once at pre-review, accepted 3 Mar (due 12 Mar), refused Fri 14 Mar: late.
    with city_date(app, date(2025, 3, 3)):
        second = new_case(client, token)
        for code in SIMPLE_MATERIALS:
            assert upload(client, token, second, code, pdf_bytes(1)).status_code == 201
        assert client.post(f"/api/v1/cases/{second}/submit", headers=bearer(token)).status_code == 200
        returned = act(
            client, staff["prereviewer"], second, "prereview_return", issues=[{"material_code": "photo", "reason": "不是白底照片"}]
        )
        assert returned.status_code == 200
        assert upload(client, token, second, "photo", pdf_bytes(1)).status_code == 201
        assert client.post(f"/api/v1/cases/{second}/submit", headers=bearer(token)).status_code == 200
        assert act(client, staff["prereviewer"], second, "prereview_pass").status_code == 200
        assert act(client, staff["clerk"], second, "accept").get_json()["due_on"] == "2025-03-12"
    with city_date(app, date(2025, 3, 14)):
        no_reason = act(client, staff["officer"], second, "reject")
        assert no_reason.status_code == 422 and no_reason.get_json()["code"] == "reason_required"
        assert act(client, staff["officer"], second, "reject", reason="居住证明与实际居住地不符").status_code == 200
    assert client.post(f"/api/v1/cases/{first}/rating", json={"level": 5}, headers=bearer(token)).status_code == 201
    assert client.post(f"/api/v1/cases/{second}/rating", json={"level": 1, "comment": "跑了两次"}, headers=bearer(token)).status_code == 201

    stats = client.get(
        "/api/v1/staff/supervision/stats",
        query_string={"from": "2025-03-01", "to": "2025-03-31", "department": "GA"},
        headers=bearer(staff["supervisor"]),
    )
    assert stats.status_code == 200, stats.get_json()
    body = stats.get_json()
    assert body | {"overdue": None} == {
        "from": "2025-03-01",
        "to": "2025-03-31",
        "department": "GA",
        "accepted": 2,
        "finished": 2,
        "on_time_rate": 0.5,
        "instant_rate": 0.0,
        "average_working_days": 5.5,
        "prereview_first_try_pass_rate": 0.5,
        "ratings": 2,
        "satisfaction_average": 3.0,
        "satisfied_rate": 0.5,
        "bad_ratings": 1,
        "overdue": None,
    }
    # Outside the officer's departments there is nothing to see; bad input is a 422, never a 500.
    empty = client.get(
        "/api/v1/staff/supervision/stats",
        query_string={"from": "2025-03-01", "to": "2025-03-31", "department": "RS"},
        headers=bearer(staff["officer"]),
    )
    assert empty.status_code == 200 and empty.get_json()["accepted"] == 0 and empty.get_json()["finished"] == 0
    assert (
        client.get(
            "/api/v1/staff/supervision/stats", query_string={"from": "2025-03-31", "to": "2025-03-01"}, headers=bearer(staff["supervisor"])
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/api/v1/staff/supervision/stats", query_string={"from": "yesterday", "to": "2025-03-01"}, headers=bearer(staff["supervisor"])
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/api/v1/staff/supervision/stats", query_string={"from": "2025-03-01", "to": "2025-03-31"}, headers=bearer(token)
        ).status_code
        == 403
    )

    # The bad rating opened a rectification (15 working days) that supervision watches like a case.
    rectifications = client.get(
        "/api/v1/staff/rectifications", query_string={"per_page": 100}, headers=bearer(staff["supervisor"])
    ).get_json()
    assert all("case_id" not in r for r in rectifications["items"])  # the internal id is not shown
    mine = [r for r in rectifications["items"] if r["case_no"] == second]
    assert len(mine) == 1 and mine[0]["department_code"] == "GA" and mine[0]["colour"] == "green"
    _scan(app, date.fromisoformat(mine[0]["due_on"]) + timedelta(days=7))
    with app.app_context():
        warned = db.session.execute(
            select(SupervisionWarning.colour, SupervisionWarning.role).where(
                SupervisionWarning.subject_type == "rectification", SupervisionWarning.subject_id == mine[0]["id"]
            )
        ).all()
    assert sorted(tuple(w) for w in warned) == [("red", "officer"), ("red", "supervisor")]


def test_prereview_deadline_is_watched(app, client, citizen):
    token = citizen["access_token"]
    with city_date(app, date(2026, 9, 30)):  # Wed 30 Sep: pre-review due the next working day, Thu 8 Oct
        case_no = new_case(client, token)
        for code in SIMPLE_MATERIALS:
            assert upload(client, token, case_no, code, pdf_bytes(1)).status_code == 201
        assert client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(token)).status_code == 200
    assert client.get(f"/api/v1/cases/{case_no}", headers=bearer(token)).get_json()["prereview_due_on"] == "2026-10-08"
    _scan(app, date(2026, 10, 7))  # still inside National Day: due tomorrow, yellow
    assert _colour(app, case_no) == "yellow"
    _scan(app, date(2026, 10, 9))
    assert _colour(app, case_no) == "red" and [w[:2] for w in _warnings(app, case_no)] == [
        ("yellow", "officer"),
        ("red", "officer"),
        ("red", "supervisor"),
    ]


def test_scan_is_a_registered_beat_job(app):
    job = app.extensions["beat_schedule"]["scan-case-deadlines"]
    assert job["task"] == "cases.scan_deadlines" and job["options"]["queue"] == "default"
    assert "cases.scan_deadlines" in celery.tasks
