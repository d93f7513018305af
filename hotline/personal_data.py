"""Hotline tickets in a citizen's data export and account closure (the ``hotline`` provider).

Exported: the tickets the citizen opened or that name their account or phone — what they said, the
department's answer, the status and the return call — and how many verifications were tried on their
behalf. Operators' look-ups are not exported: they are the government's access log (the audit trail).

On closure: a 12345 ticket is a government work order (工单) the city must keep as a record of the request
and of the department's answer, so tickets stay, unlinked from the account; the caller's phone, name,
e-mail and exact address are erased. The verification counters of the account are deleted.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update

from hotline.models import Ticket, VerificationDay
from mobile_api.extensions import db
from mobile_api.personal_data import Subject
from mobile_api.pii import index_matches


def _theirs(subject: Subject):
    clause = Ticket.account_id == subject.account_id
    if subject.phone:
        clause = or_(clause, index_matches(Ticket.caller_phone_index, subject.phone, "phone"))
    return clause


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_hotline(subject: Subject) -> dict:
    tickets = db.session.scalars(select(Ticket).where(_theirs(subject)).order_by(Ticket.created_at)).all()
    return {
        "tickets": [
            {
                "ticket_no": t.ticket_no,
                "type": t.ticket_type,
                "status": t.status,
                "content": t.content,
                "caller_phone": t.caller_phone,
                "caller_name": t.caller_name,
                "case_no": t.case_no,
                "item_code": t.item_code,
                "department_code": t.department_code,
                "answer": t.answer,
                "answered_at": _iso(t.answered_at),
                "satisfaction": t.satisfaction,
                "created_at": _iso(t.created_at),
            }
            for t in tickets
        ]
    }


def erase_hotline(subject: Subject, context: dict) -> dict:
    """In the caller's transaction."""
    kept = db.session.execute(
        update(Ticket)
        .where(_theirs(subject))
        .values(account_id=None, caller_phone=None, caller_phone_index=None, caller_name=None, caller_email=None, address=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    erased = db.session.execute(delete(VerificationDay).where(VerificationDay.account_id == subject.account_id)).rowcount
    context["retained_records"] += kept
    return {"erased": {"verification_days": erased}, "kept": {"tickets_unlinked": kept}}
