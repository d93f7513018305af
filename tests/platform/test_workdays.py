"""The working-day calendar on real calendars: National Day 2026, 调休 Saturdays, the unknown 2027."""

from __future__ import annotations

from datetime import date

from mobile_api import workdays
from tests.support import bearer, staff_token


def test_national_day_2026_is_not_working_and_the_makeup_saturday_is(app_context):
    for day in range(1, 8):
        assert not workdays.is_workday(date(2026, 10, day)), f"2026-10-0{day} is a holiday"
    assert workdays.is_workday(date(2026, 10, 10))  # Saturday, 调休 working day
    assert workdays.is_workday(date(2026, 9, 20))  # Sunday, 调休 working day
    assert not workdays.is_workday(date(2026, 10, 11))  # ordinary Sunday


def test_deadline_counts_from_the_next_day_and_skips_national_day(app_context):
    # Accepted Wed 2026-09-30: the holiday runs 10-01..10-07; 10-08 (Thu) is the first working day.
    result = workdays.add_working_days(date(2026, 9, 30), 1)
    assert result == workdays.WorkdayDate(date(2026, 10, 8), provisional=False)
    # 5 working days: 10-08, 10-09, 10-10 (调休 Saturday), 10-12, 10-13.
    assert workdays.add_working_days(date(2026, 9, 30), 5).date == date(2026, 10, 13)
    assert workdays.add_working_days(date(2026, 9, 30), 0).date == date(2026, 9, 30)


def test_deadline_into_2027_is_provisional_but_exists(app_context):
    # chinesecalendar stops at 2026: a case accepted in December 2026 still gets a deadline.
    result = workdays.add_working_days(date(2026, 12, 21), 20)
    assert result.provisional is True
    # Mon–Fri counting through the unknown 2027 (2026-12-22..31 = 8 days, then 12 in 2027).
    assert result.date == date(2027, 1, 18)
    assert workdays.add_working_days(date(2026, 12, 1), 5).provisional is False


def test_working_days_between(app_context):
    assert workdays.working_days_between(date(2026, 9, 30), date(2026, 10, 13)) == 5
    assert workdays.working_days_between(date(2026, 10, 13), date(2026, 9, 30)) == -5
    assert workdays.working_days_between(date(2026, 10, 13), date(2026, 10, 13)) == 0


def test_admin_enters_2027_and_deadlines_follow(client, app):
    admin = staff_token(client, "admin", app.config["DEMO_PASSWORD"])
    headers = bearer(admin)
    # New Year's Day 2027 is a Friday.
    response = client.put("/api/v1/staff/calendar/days/2027-01-01", json={"is_workday": False, "name": "元旦"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["source"] == "admin"
    with app.app_context():
        assert workdays.add_working_days(date(2026, 12, 31), 1).date == date(2027, 1, 4)
    response = client.post("/api/v1/staff/calendar/2027/complete", headers=headers)
    assert response.status_code == 200 and response.get_json()["known"] is True
    with app.app_context():
        assert workdays.add_working_days(date(2026, 12, 31), 1).provisional is False
    overview = client.get("/api/v1/staff/calendar/2027", headers=headers).get_json()
    assert overview["known"] is True and overview["days"][0]["day"] == "2027-01-01"
    # Clean up so other tests see 2027 as unknown again.
    assert client.delete("/api/v1/staff/calendar/days/2027-01-01", headers=headers).status_code == 204
    with app.app_context():
        from mobile_api.extensions import db
        from mobile_api.models import CalendarYear

        db.session.delete(db.session.get(CalendarYear, 2027))
        db.session.commit()


def test_calendar_edits_need_admin_and_valid_dates(client, app):
    supervisor = staff_token(client, "supervisor", app.config["DEMO_PASSWORD"])
    assert client.get("/api/v1/staff/calendar/2026", headers=bearer(supervisor)).status_code == 200
    response = client.put("/api/v1/staff/calendar/days/2026-12-24", json={"is_workday": False}, headers=bearer(supervisor))
    assert response.status_code == 403
    admin = staff_token(client, "admin", app.config["DEMO_PASSWORD"])
    response = client.put("/api/v1/staff/calendar/days/2026-13-45", json={"is_workday": False}, headers=bearer(admin))
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    response = client.put("/api/v1/staff/calendar/days/2026-12-24", json={"is_workday": "maybe"}, headers=bearer(admin))
    assert response.status_code == 422 and "is_workday" in response.get_json()["errors"]
    assert client.delete("/api/v1/staff/calendar/days/2026-12-24", headers=bearer(admin)).status_code == 404  # nothing was stored
