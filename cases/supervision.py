"""Electronic supervision (电子监察): colour every open case and rectification, warn once per change, stats.

green: more than ``CASES_YELLOW_DAYS`` working days left; yellow: that many or fewer; red: overdue.
A colour change is claimed with a conditional UPDATE (``WHERE colour = old``), so two scans running at
once on two workers raise each warning exactly once; warnings are also unique per colour change.
Yellow warns the department's officers; red warns the officers and the supervisors.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select, update

from auth.models import StaffUser
from cases.clock import today
from cases.deadlines import DaysLeft
from cases.models import PREREVIEW_STATUSES, RUNNING_STATUSES, Case, Colour, Rating, Rectification, SupervisionWarning
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.roles import ADMIN, OFFICER, SUPERVISOR
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

BATCH = 1000


def colour_for(days_left: int, yellow_days: int) -> Colour:
    if days_left < 0:
        return Colour.RED
    return Colour.YELLOW if days_left <= yellow_days else Colour.GREEN


def scan_deadlines(on: date | None = None) -> dict:
    """Recolour open cases and rectifications; returns how many changed and how many warnings were raised."""
    on = on or today()
    yellow_days = setting("CASES_YELLOW_DAYS")
    changed = warnings = last_id = 0
    while True:
        # One transaction per batch, so a scan of many cases never holds its row locks for long.
        with transaction():
            rows = _open_cases(after_id=last_id)
            if not rows:
                break
            last_id = rows[-1].id
            dues = [(row, row.due_on if row.status in RUNNING_STATUSES else row.prereview_due_on) for row in rows]
            days = DaysLeft(on, [due for _, due in dues if due])
            for row, due in dues:
                if due is None:
                    continue
                colour = colour_for(days.days_left(due), yellow_days)
                if colour != row.colour and _claim_colour(Case, row.id, row.colour, colour):
                    changed += 1
                    warnings += _warn("case", row.id, row.case_no, row.department_code, colour, row.colour_changes + 1, due)
    with transaction():
        changed_r, warnings_r = _scan_rectifications(on, yellow_days)
    return {"changed": changed + changed_r, "warnings": warnings + warnings_r}


def _open_cases(after_id: int) -> list:
    """The next batch of cases whose clock (statutory or pre-review) is running."""
    return db.session.execute(
        select(
            Case.id,
            Case.case_no,
            Case.department_code,
            Case.status,
            Case.due_on,
            Case.prereview_due_on,
            Case.colour,
            Case.colour_changes,
        )
        .where(Case.id > after_id, Case.status.in_((*RUNNING_STATUSES, *PREREVIEW_STATUSES)))
        .order_by(Case.id)
        .limit(BATCH)
    ).all()


def _scan_rectifications(on: date, yellow_days: int) -> tuple[int, int]:
    rows = db.session.execute(
        select(
            Rectification.id,
            Rectification.department_code,
            Rectification.due_on,
            Rectification.colour,
            Rectification.colour_changes,
            Case.case_no,
        )
        .join(Case, Case.id == Rectification.case_id)
        .where(Rectification.done_at.is_(None))
    ).all()
    changed = warnings = 0
    days = DaysLeft(on, [row.due_on for row in rows])
    for row in rows:
        colour = colour_for(days.days_left(row.due_on), yellow_days)
        if colour != row.colour and _claim_colour(Rectification, row.id, row.colour, colour):
            changed += 1
            warnings += _warn("rectification", row.id, row.case_no, row.department_code, colour, row.colour_changes + 1, row.due_on)
    return changed, warnings


def _claim_colour(model, row_id: int, old: str, new: str) -> bool:
    return bool(
        db.session.execute(
            update(model)
            .where(model.id == row_id, model.colour == old)
            .values(colour=new, colour_changes=model.colour_changes + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _warn(subject_type: str, subject_id: int, case_no: str, department: str, colour: str, change: int, due_on: date) -> int:
    if colour == Colour.GREEN:
        return 0
    roles = (OFFICER,) if colour == Colour.YELLOW else (OFFICER, SUPERVISOR)
    raised = 0
    for role in roles:
        raised += insert_ignoring_conflict(
            SupervisionWarning,
            subject_type=subject_type,
            subject_id=subject_id,
            case_no=case_no,
            department_code=department,
            colour=colour,
            colour_change=change,
            role=role,
            due_on=due_on,
            created_at=utcnow(),
        )
    return raised


def list_warnings(staff: StaffUser, page: int, per_page: int) -> Page:
    statement = select(SupervisionWarning).order_by(SupervisionWarning.created_at.desc(), SupervisionWarning.id.desc())
    if ADMIN not in staff.roles:
        statement = statement.where(SupervisionWarning.department_code.in_(list(staff.department_codes or [])))
        role_names = {OFFICER} if SUPERVISOR not in staff.roles else {OFFICER, SUPERVISOR}
        statement = statement.where(SupervisionWarning.role.in_(role_names))
    return paginate(statement, page, per_page)


def stats(staff: StaffUser, start: date, end: date, department: str | None) -> dict:
    """Figures for a period: cases accepted in it; of the cases finished in it, the on-time rate, 即办率
    (finished the day of acceptance), average working days and satisfaction; the first-try pre-review
    pass rate of the cases accepted in it; and today's overdue list."""
    codes = None if ADMIN in staff.roles else list(staff.department_codes or [])
    if department:
        codes = [department] if codes is None or department in codes else []

    def scoped(statement, column):
        return statement if codes is None else statement.where(column.in_(codes))

    accepted = db.session.scalar(scoped(select(func.count()).where(Case.accepted_on.between(start, end)), Case.department_code)) or 0
    finished_row = db.session.execute(
        scoped(
            select(
                func.count(),
                _count_if(Case.on_time.is_(True)),
                func.avg(Case.working_days_used),
                _count_if(Case.working_days_used == 0),
            ).where(Case.finished_on.between(start, end)),
            Case.department_code,
        )
    ).one()
    finished, on_time, average_days, instant = finished_row[0] or 0, finished_row[1] or 0, finished_row[2], finished_row[3] or 0
    prereviewed = db.session.execute(
        scoped(
            select(func.count(), _count_if(Case.prereview_returns == 0)).where(Case.accepted_on.between(start, end)),
            Case.department_code,
        )
    ).one()
    ratings = db.session.execute(
        scoped(
            select(func.count(), func.avg(Rating.level), _count_if(Rating.level >= 4), _count_if(Rating.level <= 2))
            .join(Case, Case.id == Rating.case_id)
            .where(Case.finished_on.between(start, end)),
            Case.department_code,
        )
    ).one()
    on = today()
    overdue = db.session.execute(
        scoped(
            select(Case.case_no, Case.department_code, Case.status, Case.due_on)
            .where(Case.status.in_(RUNNING_STATUSES), Case.due_on < on)
            .order_by(Case.due_on)
            .limit(100),
            Case.department_code,
        )
    ).all()
    with transaction():  # the figures were read before: only the audit row is written
        record_audit(
            staff_actor(staff),
            "supervision.stats",
            "case",
            "*",
            details={"from": start.isoformat(), "to": end.isoformat(), "department": department},
        )
    return {
        "from": start,
        "to": end,
        "department": department,
        "accepted": accepted,
        "finished": finished,
        "on_time_rate": _ratio(on_time, finished),
        "instant_rate": _ratio(instant, finished),
        "average_working_days": round(float(average_days), 2) if average_days is not None else None,
        "prereview_first_try_pass_rate": _ratio(prereviewed[1] or 0, prereviewed[0] or 0),
        "ratings": ratings[0] or 0,
        "satisfaction_average": round(float(ratings[1]), 2) if ratings[1] is not None else None,
        "satisfied_rate": _ratio(ratings[2] or 0, ratings[0] or 0),
        "bad_ratings": ratings[3] or 0,
        "overdue": [{"case_no": r.case_no, "department_code": r.department_code, "status": r.status, "due_on": r.due_on} for r in overdue],
    }


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
