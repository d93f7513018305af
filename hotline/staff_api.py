"""HTTP for the staff side of the hotline: departments' tickets (answer, send back), warnings and
figures, the audit trail and operator flags (supervisors), Open311 keys (admins)."""

from __future__ import annotations

from flask_smorest import Blueprint

from hotline import departments, escalation, oversight, stats
from hotline.open311 import keys
from hotline.schemas import AnswerRequest, ReasonQuery, SendBackRequest, TicketDetailSchema, TicketPage
from hotline.staff_schemas import (
    AuditPage,
    AuditQuery,
    DepartmentTicketQuery,
    FlagPage,
    FlagQuery,
    FlagReview,
    FlagSchema,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeySchema,
    PeriodQuery,
    TicketStatsSchema,
    WarningPage,
    WarningQuery,
)
from mobile_api.access import current_staff, requires
from mobile_api.roles import ADMIN, DEPARTMENT_HEAD, OFFICER, SUPERVISOR

staff_hotline_blp = Blueprint(
    "staff_hotline", __name__, url_prefix="/api/v1/staff", description="12345工单的部门办理、督办预警、统计；审计查询；Open311密钥"
)
DEPARTMENT_ROLES = [OFFICER, DEPARTMENT_HEAD, SUPERVISOR]


# ------------------------------------------------------------------ departments
@staff_hotline_blp.route("/tickets", methods=["GET"])
@requires(roles=DEPARTMENT_ROLES)
@staff_hotline_blp.arguments(DepartmentTicketQuery, location="query")
@staff_hotline_blp.response(200, TicketPage)
def department_tickets(args: dict):
    """Tickets routed to my departments, earliest deadline first; ?status=&overdue=."""
    filters = {key: args.get(key) for key in ("status", "overdue")}
    return departments.department_tickets(current_staff(), filters, args["page"], args["per_page"])


@staff_hotline_blp.route("/tickets/warnings", methods=["GET"])
@requires(roles=DEPARTMENT_ROLES)
@staff_hotline_blp.arguments(WarningQuery, location="query")
@staff_hotline_blp.response(200, WarningPage)
def ticket_warnings(args: dict):
    """Yellow warnings (officers) and red escalations — 督办 (officers, department heads, supervisors)."""
    return escalation.list_warnings(current_staff(), args["page"], args["per_page"], args.get("colour")).as_dict()


@staff_hotline_blp.route("/tickets/stats", methods=["GET"])
@requires(roles=[SUPERVISOR, DEPARTMENT_HEAD])
@staff_hotline_blp.arguments(PeriodQuery, location="query")
@staff_hotline_blp.response(200, TicketStatsSchema)
def ticket_stats(args: dict):
    """By week: answered within the deadline, satisfaction; top items and departments by complaints."""
    return stats.ticket_stats(current_staff(), args["from_"], args["to"], args.get("department"))


@staff_hotline_blp.route("/tickets/<ticket_no>", methods=["GET"])
@requires(roles=DEPARTMENT_ROLES)
@staff_hotline_blp.arguments(ReasonQuery, location="query")
@staff_hotline_blp.response(200, TicketDetailSchema)
def department_ticket(args: dict, ticket_no: str):
    """One ticket routed to the officer's departments, with its history."""
    return departments.department_ticket(current_staff(), ticket_no, args.get("reason"))


@staff_hotline_blp.route("/tickets/<ticket_no>/answer", methods=["POST"])
@requires(roles=[OFFICER, DEPARTMENT_HEAD])
@staff_hotline_blp.arguments(AnswerRequest)
@staff_hotline_blp.response(200, TicketDetailSchema)
def answer_ticket(args: dict, ticket_no: str):
    """答复: the caller is told in the app and by SMS and asked for their satisfaction."""
    return departments.answer(current_staff(), ticket_no, args["answer"])


@staff_hotline_blp.route("/tickets/<ticket_no>/send-back", methods=["POST"])
@requires(roles=[OFFICER, DEPARTMENT_HEAD])
@staff_hotline_blp.arguments(SendBackRequest)
@staff_hotline_blp.response(200, TicketDetailSchema)
def send_back_ticket(args: dict, ticket_no: str):
    """退回: mis-routed, not this department's business (reason required); the hotline re-routes it."""
    return departments.send_back(current_staff(), ticket_no, args["reason"])


# ------------------------------------------------------------------ supervisors
@staff_hotline_blp.route("/audit", methods=["GET"])
@requires(roles=[SUPERVISOR])
@staff_hotline_blp.arguments(AuditQuery, location="query")
@staff_hotline_blp.response(200, AuditPage)
def audit_trail(args: dict):
    """The audit trail: ?actor=staff:operator&kind=hotline.lookup (an action or a dotted prefix)."""
    filters = {key: args.get(key) for key in ("actor", "kind", "subject_id", "from_", "to")}
    return oversight.audit_events(current_staff(), filters, args["page"], args["per_page"]).as_dict()


@staff_hotline_blp.route("/hotline/operator-flags", methods=["GET"])
@requires(roles=[SUPERVISOR])
@staff_hotline_blp.arguments(FlagQuery, location="query")
@staff_hotline_blp.response(200, FlagPage)
def operator_flags(args: dict):
    """Operators whose look-ups far exceeded their calls on a day (see hotline/oversight.py)."""
    return oversight.list_flags(args["open"], args["page"], args["per_page"])


@staff_hotline_blp.route("/hotline/operator-flags/<int:flag_id>/review", methods=["POST"])
@requires(roles=[SUPERVISOR])
@staff_hotline_blp.arguments(FlagReview)
@staff_hotline_blp.response(200, FlagSchema)
def review_operator_flag(args: dict, flag_id: int):
    """Close a flag with a note; the operator's normal look-up rate returns."""
    return oversight.review_flag(current_staff(), flag_id, args["note"])


# ------------------------------------------------------------------ admins: Open311 keys
@staff_hotline_blp.route("/open311/keys", methods=["POST"])
@requires(roles=[ADMIN])
@staff_hotline_blp.arguments(KeyCreate)
@staff_hotline_blp.response(201, KeyCreated)
def issue_key(args: dict):
    """Issue an api_key for a third-party app; it is shown once, only its hash is stored."""
    return keys.issue_key(current_staff(), args["name"], args.get("rate_limit"))


@staff_hotline_blp.route("/open311/keys", methods=["GET"])
@requires(roles=[ADMIN])
@staff_hotline_blp.response(200, KeyList)
def list_keys():
    """Open311 API keys issued to third-party apps (the keys themselves are never shown again)."""
    return {"items": keys.list_keys()}


@staff_hotline_blp.route("/open311/keys/<int:key_id>", methods=["DELETE"])
@requires(roles=[ADMIN])
@staff_hotline_blp.response(200, KeySchema)
def revoke_key(key_id: int):
    """Revoke a key: its next request is refused (403)."""
    return keys.revoke_key(current_staff(), key_id)
