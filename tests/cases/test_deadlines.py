"""Deadlines on the real 2026 calendar (chinesecalendar data in the database) and into 2027."""

from __future__ import annotations

from datetime import date

from cases.deadlines import DaysLeft, days_left_on, deadline_from, extend_deadline, resume_deadline
from cases.supervision import colour_for


def test_national_day_2026_is_skipped_and_the_adjusted_saturday_counts(app_context):
    # Accepted Wed 30 Sep; 1–7 Oct are holidays; Sat 10 Oct is a 调休 working day.
    due = deadline_from(date(2026, 9, 30), 5)
    assert due.due_on == date(2026, 10, 13)  # 8, 9, 10 (Sat), 12, 13
    assert due.provisional is False


def test_adjusted_sunday_before_national_day_is_a_working_day(app_context):
    # Accepted Fri 18 Sep 2026: the next working day is Sun 20 Sep (调休上班), not Mon 21.
    assert deadline_from(date(2026, 9, 18), 1).due_on == date(2026, 9, 20)
    # Mid-autumn (Fri 25 Sep) is a holiday: from Thu 24 Sep, one working day is Mon 28 Sep.
    assert deadline_from(date(2026, 9, 24), 1).due_on == date(2026, 9, 28)


def test_accepted_december_2026_lands_in_2027_and_is_provisional(app_context):
    due = deadline_from(date(2026, 12, 21), 10)
    # Dec 22–25, 28–31 (8), then 2027 without holiday data: Fri 1 Jan, Mon 4 Jan.
    assert due.due_on == date(2027, 1, 4)
    assert due.provisional is True
    # Inside 2026 the same computation is firm.
    assert deadline_from(date(2026, 12, 21), 8) == type(due)(date(2026, 12, 31), False)


def test_instant_item_is_due_the_same_day(app_context):
    assert deadline_from(date(2026, 10, 9), 0).due_on == date(2026, 10, 9)


def test_suspension_stops_the_clock_and_resume_recounts_the_days_left(app_context):
    accepted = date(2026, 9, 14)
    due = deadline_from(accepted, 20).due_on
    # 15–18, 20 (Sun, 调休), 21–24, 28–30, 8–10 Oct (10 = Sat 调休), 12–16 Oct
    assert due == date(2026, 10, 16)
    left = days_left_on(date(2026, 9, 18), due)
    assert left == 16
    resumed = resume_deadline(date(2026, 12, 10), left)
    assert resumed.due_on == date(2027, 1, 1) and resumed.provisional is True
    # Resuming on the day of suspension gives back the original deadline.
    assert resume_deadline(date(2026, 9, 18), left).due_on == due


def test_extension_adds_working_days_to_the_current_deadline(app_context):
    assert extend_deadline(date(2026, 9, 30), 3).due_on == date(2026, 10, 10)  # 8, 9 and Sat 10 (调休)


def test_days_left_with_one_calendar_matches_the_single_computation(app_context):
    today = date(2026, 9, 28)
    dues = [date(2026, 9, 20), date(2026, 10, 9), date(2026, 10, 16), date(2027, 1, 4)]
    days = DaysLeft(today, dues)
    assert [days.days_left(due) for due in dues] == [days_left_on(today, due) for due in dues]
    assert days.days_left(date(2026, 10, 9)) == 4  # 29, 30 Sep, 8, 9 Oct
    assert days.days_left(date(2026, 9, 20)) < 0


def test_colours(app_context):
    assert colour_for(5, 2) == "green"
    assert colour_for(2, 2) == "yellow"
    assert colour_for(0, 2) == "yellow"
    assert colour_for(-1, 2) == "red"


def test_sandbox_clock_is_ignored_outside_the_sandbox(app_context):
    from cases.clock import today
    from mobile_api.timeutil import city_today

    app = app_context
    saved = {name: app.config.get(name) for name in ("SANDBOX_TODAY", "SANDBOX_MODE")}
    try:
        app.config["SANDBOX_TODAY"] = date(2026, 10, 1)
        assert today() == date(2026, 10, 1)
        app.config["SANDBOX_MODE"] = False
        assert today() == city_today()
    finally:
        app.config.update(saved)
