"""The case lifecycle as data: which staff action moves a case from which statuses to which, and who may.

What each action does besides changing the status (deadlines, parallel tasks, certificates) is in
``transitions.py``; applying an action (claim, timeline, audit, notice) is ``staff.transition``.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.models import StaffUser
from cases.models import PREREVIEW_STATUSES, RUNNING_STATUSES, SUBMITTED_STATUSES, Case, CaseStatus
from mobile_api.roles import ADMIN, OFFICER, PREREVIEWER, SUPERVISOR, WINDOW_CLERK


@dataclass(frozen=True)
class Action:
    from_statuses: tuple[CaseStatus, ...]
    to_status: CaseStatus | None  # None: the status stays
    roles: tuple[str, ...]
    visible: bool = True
    template: str | None = None


ACTIVE = RUNNING_STATUSES  # accepted or in progress: the officer works on it
ACTIONS: dict[str, Action] = {
    "prereview_pass": Action(PREREVIEW_STATUSES, CaseStatus.PREREVIEW_PASSED, (PREREVIEWER,), template="cases.prereview_passed"),
    "prereview_return": Action(PREREVIEW_STATUSES, CaseStatus.PREREVIEW_RETURNED, (PREREVIEWER,), template="cases.prereview_returned"),
    "accept": Action((CaseStatus.PREREVIEW_PASSED,), CaseStatus.ACCEPTED, (WINDOW_CLERK, OFFICER), template="cases.accepted"),
    "start": Action((CaseStatus.ACCEPTED,), CaseStatus.IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "advance_step": Action(ACTIVE, CaseStatus.IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "complete_task": Action(ACTIVE, CaseStatus.IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "suspend": Action(ACTIVE, CaseStatus.SUSPENDED, (OFFICER,), template="cases.suspended"),
    "resume": Action((CaseStatus.SUSPENDED,), CaseStatus.IN_PROGRESS, (OFFICER,), template="cases.resumed"),
    "extend": Action(ACTIVE, None, (SUPERVISOR,), template="cases.extended"),
    "approve": Action((CaseStatus.IN_PROGRESS,), CaseStatus.APPROVED, (OFFICER,), template="cases.approved"),
    "reject": Action((*ACTIVE, CaseStatus.SUSPENDED), CaseStatus.REJECTED, (OFFICER,), template="cases.rejected"),
    "issue_certificate": Action((CaseStatus.APPROVED,), CaseStatus.CERTIFICATE_ISSUED, (OFFICER,), template="cases.certificate_issued"),
    "deliver": Action((CaseStatus.CERTIFICATE_ISSUED,), CaseStatus.DELIVERED, (WINDOW_CLERK, OFFICER), template="cases.delivered"),
    "collect": Action((CaseStatus.CERTIFICATE_ISSUED,), CaseStatus.COLLECTED, (WINDOW_CLERK,), template="cases.collected"),
    "close": Action(
        (CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.DELIVERED, CaseStatus.COLLECTED),
        CaseStatus.CLOSED,
        (WINDOW_CLERK, OFFICER),
        template="cases.closed",
    ),
    # Internal notes, on any case staff can see (every status but draft), finished ones included.
    "note": Action(SUBMITTED_STATUSES, None, (PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR), visible=False),
}


def has_role(staff: StaffUser, roles: tuple[str, ...]) -> bool:
    return ADMIN in staff.roles or bool(set(roles) & set(staff.roles))


def in_scope(staff: StaffUser, department_code: str) -> bool:
    """May this staff member act for ``department_code``? (Reading is wider: see ``staff.staff_case``.)"""
    return ADMIN in staff.roles or department_code in (staff.department_codes or [])


def allowed_actions(case: Case, staff: StaffUser | None = None) -> list[str]:
    return [
        name for name, action in ACTIONS.items() if case.status in action.from_statuses and (staff is None or has_role(staff, action.roles))
    ]
