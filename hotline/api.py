"""HTTP for 12345 operators (role ``hotline_operator``): look-ups, caller verification, one-time
notices, tickets. Citizens' tokens are refused on every route (403 ``staff_only``)."""

from __future__ import annotations

from flask import jsonify
from flask_jwt_extended import get_jwt_identity
from flask_smorest import Blueprint

from hotline import lookup, notices, oversight, service, verification
from hotline.schemas import (
    CallerPhoneSchema,
    CatalogNoticePage,
    CodeSentSchema,
    HotlineCatalogQuery,
    LookupQuery,
    LookupSchema,
    NoticeRequest,
    NoticeSentSchema,
    ReasonQuery,
    RequiredReasonQuery,
    TicketCreate,
    TicketDetailSchema,
    TicketListQuery,
    TicketPage,
    TicketTransition,
    VerificationRequest,
)
from mobile_api.access import current_staff, principal_id, requires
from mobile_api.extensions import client_ip, limiter, verify_token_once
from mobile_api.idempotency import idempotent
from mobile_api.roles import HOTLINE_OPERATOR
from mobile_api.settings import setting

hotline_blp = Blueprint(
    "hotline", __name__, url_prefix="/api/v1/hotline", description="12345热线坐席：查询（留痕）、来电人核验、一次性告知、工单"
)
OPERATORS = [HOTLINE_OPERATOR]


def operator_key() -> str:
    """Rate-limit key: the operator (each operator has their own allowance), else the address."""
    verify_token_once(optional=True)
    identity = get_jwt_identity()
    return f"operator:{identity}" if identity else f"ip:{client_ip()}"


def operator_lookup_limit() -> str:
    """The per-operator look-up rate; stricter while a flag about this operator awaits review."""
    verify_token_once(optional=True)
    identity = get_jwt_identity()
    if identity and identity.startswith("s:") and oversight.has_open_flag(int(principal_id({"sub": identity}))):
        return setting("HOTLINE_LOOKUP_LIMIT_FLAGGED")
    return setting("HOTLINE_LOOKUP_LIMIT")


lookup_limit = limiter.shared_limit(operator_lookup_limit, scope="hotline-lookup", key_func=operator_key)


# ------------------------------------------------------------------ look-ups
@hotline_blp.route("/lookup", methods=["GET"])
@requires(roles=OPERATORS)
@lookup_limit
@hotline_blp.arguments(LookupQuery, location="query")
@hotline_blp.response(200, LookupSchema)
def lookup_caller(args: dict):
    """Exactly one of case_no / phone / id_number, complete (422 for partial or wildcard). Audited.
    Until the caller is verified only status and next step are shown."""
    return lookup.lookup(current_staff(), args)


@hotline_blp.route("/lookups/<lookup_id>", methods=["GET"])
@requires(roles=OPERATORS)
@lookup_limit
@hotline_blp.response(200, LookupSchema)
def reread_lookup(lookup_id: str):
    """The same look-up again (details once verified); audited; 410 after it expired."""
    return lookup.reread(current_staff(), lookup_id)


@hotline_blp.route("/verifications", methods=["POST"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(VerificationRequest)
@hotline_blp.response(200, LookupSchema)
@hotline_blp.alt_response(202, schema=CodeSentSchema, description="sms_code without answer: a code was sent to the phone on record")
def verify_caller(args: dict):
    """id_last4 (last four of the ID number on record) or sms_code (first call sends the code to the
    phone on record, the second checks it). Wrong answers are limited and audited."""
    result, status = verification.verify(current_staff(), args)
    if status == 202:
        response = jsonify(CodeSentSchema().dump(result))
        response.status_code = 202
        return response
    return result


# ------------------------------------------------------------------ consultation
@hotline_blp.route("/catalog", methods=["GET"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(HotlineCatalogQuery, location="query")
@hotline_blp.response(200, CatalogNoticePage)
def search_catalog(args: dict):
    """Search service items; each with the one-time notice the caller would receive by SMS."""
    return notices.search_items(args.get("q"), args.get("department"), args["page"], args["per_page"])


@hotline_blp.route("/notices", methods=["POST"])
@requires(roles=OPERATORS)
@idempotent
@hotline_blp.arguments(NoticeRequest)
@hotline_blp.response(201, NoticeSentSchema)
def send_notice(args: dict):
    """Send an item's one-time notice (一次性告知) to the caller by SMS; limited per phone per day."""
    return notices.send_notice(current_staff(), args["item_code"], args["phone"])


# ------------------------------------------------------------------ tickets
@hotline_blp.route("/tickets", methods=["POST"])
@requires(roles=OPERATORS)
@idempotent
@hotline_blp.arguments(TicketCreate)
@hotline_blp.response(201, TicketDetailSchema)
def create_ticket(args: dict):
    """Record a ticket (工单); with department_code it is routed (转办) at once."""
    return service.operator_create_ticket(current_staff(), args)


@hotline_blp.route("/tickets", methods=["GET"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(TicketListQuery, location="query")
@hotline_blp.response(200, TicketPage)
def list_tickets(args: dict):
    """Every ticket, newest first; ?status=&ticket_type=&department=&overdue=."""
    filters = {key: args.get(key) for key in ("status", "ticket_type", "department", "overdue")}
    return service.operator_tickets(current_staff(), filters, args["page"], args["per_page"])


@hotline_blp.route("/tickets/<ticket_no>", methods=["GET"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(ReasonQuery, location="query")
@hotline_blp.response(200, TicketDetailSchema)
def get_ticket(args: dict, ticket_no: str):
    """One ticket with its history and the linked case's story (rating, rectification)."""
    return service.operator_ticket(current_staff(), ticket_no, args.get("reason"))


@hotline_blp.route("/tickets/<ticket_no>/transitions", methods=["POST"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(TicketTransition)
@hotline_blp.response(200, TicketDetailSchema)
def transition_ticket(args: dict, ticket_no: str):
    """assign (转办) | resolve (当场答复) | close (重复等) | note | callback (回访; reopen once if unsatisfied)."""
    return service.operator_transition(current_staff(), ticket_no, args["action"], args)


@hotline_blp.route("/tickets/<ticket_no>/caller-phone", methods=["GET"])
@requires(roles=OPERATORS)
@hotline_blp.arguments(RequiredReasonQuery, location="query")
@hotline_blp.response(200, CallerPhoneSchema)
def caller_phone(args: dict, ticket_no: str):
    """The caller's whole number for the return call (回访); each reveal is audited with its reason."""
    return service.caller_phone_for_callback(current_staff(), ticket_no, args["reason"])
