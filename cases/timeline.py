"""Writing a case's history, shared by the citizen's side (``service.py``) and the staff side (``staff.py``).

Every change of a case goes through here, inside the caller's transaction: ``claim_case`` takes the row
(so two concurrent transitions cannot both win), ``add_event`` appends to the timeline, invalidates
the citizen's stored view and tells the packages above (``cases.events``), ``notify_citizen`` queues
the message the citizen gets about it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from auth.models import Account
from cases.events import case_status_changed
from cases.models import Case, CaseEvent
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from notifications.service import notify

CITIZEN_ACTOR = "citizen"  # the ``actor`` of the citizen's own events; staff appear as ``staff:<username>``


def claim_case(case: Case, from_status: str) -> None:
    """Serialise concurrent transitions of one case: a conditional UPDATE takes the row (409 for the loser)."""
    claimed = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == from_status)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise Problem(409, "case_changed", "办件状态刚刚发生了变化，请刷新后重试")


def add_event(
    case: Case,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str,
    *,
    on: date,
    visible: bool = True,
    note: str | None = None,
    internal_note: str | None = None,
    data: dict | None = None,
) -> CaseEvent:
    if case.id is None:
        db.session.flush()
    case.view_version = Case.view_version + 1  # the citizen's stored view is out of date (read_model)
    event = CaseEvent(
        case_id=case.id,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        effective_on=on,
        visible=visible,
        note=note,
        internal_note=internal_note,
        data=data,
        at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    if from_status != to_status:
        case_status_changed.send(case, event=event, from_status=from_status, to_status=to_status)
    return event


def notify_citizen(account: Account, case: Case, template: str, event: CaseEvent, detail: str) -> None:
    params: dict = {"case_no": case.case_no, "item_name": case.item.name}
    if template == "cases.prereview_returned":
        params |= {"count": event.data["count"], "issues": detail}
    else:
        params["detail"] = detail or ""
    notify(account, template, params, dedupe_key=f"case-event:{event.id}")


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
