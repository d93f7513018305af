"""Operator look-ups: a caller's cases, bookings, deliveries and tickets — exact, masked and audited.

A look-up is by exactly one of a case number, a mobile number or an ID number, each complete: the
phone and the ID number are matched through the account table (the ID number through its blind
index), never by a partial or wildcard pattern, and a query that tries is refused with 422.

Until the caller is verified (``hotline/verification.py``) a look-up shows each record's status and
next step only; afterwards the timeline and dates, still masked (names, phone and ID numbers, and any
contact details inside free text). A case-number look-up shows that case alone until verified.

Every look-up — the first answer, a re-read and the answer to a successful verification — writes one
audit row: the operator, the time, the query kind, which records were shown, and the ticket or reason.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from stdnum.cn import ric

from auth.models import Account, StaffUser
from hotline import oversight, records, tickets
from hotline.masking import mask_text
from hotline.models import Lookup, Ticket
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import blind_index, mask_id_number, mask_name, mask_phone
from mobile_api.settings import setting
from mobile_api.timeutil import city_today, utcnow
from mobile_api.transactions import transaction

QUERY_KINDS = ("case_no", "phone", "id_number")
CASE_NO = re.compile(r"^[A-Z]{1,4}\d{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}$")
PHONE = re.compile(r"^1[3-9]\d{9}$")
WILDCARDS = re.compile(r"[*%_?…·]|\.\.")
PARTIAL = "partial_search_refused"
PARTIAL_TITLE = "不支持模糊或部分查询个人信息，请输入完整的办件号、手机号或身份证号"
RECORD_LIMIT = 20
BRIEF_DELIVERY_FIELDS = ("waybill_no", "case_no", "status", "status_name", "next_step")


def parse_query(args: dict) -> tuple[str, str]:
    """Exactly one complete key; anything partial, wildcarded or malformed is a 422 saying so."""
    given = [kind for kind in QUERY_KINDS if args.get(kind)]
    if len(given) != 1:
        raise Problem(422, "one_query_key", "请只按办件号、手机号、身份证号中的一种查询", errors={kind: ["三选一"] for kind in QUERY_KINDS})
    kind = given[0]
    value = str(args[kind]).strip().upper().replace(" ", "")
    if WILDCARDS.search(value):
        raise Problem(422, PARTIAL, PARTIAL_TITLE, errors={kind: ["不能使用通配符或部分号码"]})
    if kind == "case_no" and not CASE_NO.match(value):
        raise Problem(422, PARTIAL, PARTIAL_TITLE, errors={kind: ["请输入完整的办件号，如 NB2611-K7M3Q"]})
    if kind == "phone" and not PHONE.match(value):
        raise Problem(422, PARTIAL, PARTIAL_TITLE, errors={kind: ["请输入完整的11位手机号"]})
    if kind == "id_number" and not (len(value) == 18 and ric.is_valid(value)):
        raise Problem(422, PARTIAL, PARTIAL_TITLE, errors={kind: ["请输入完整、正确的18位身份证号"]})
    return kind, value


def _resolve(kind: str, value: str) -> tuple[Account | None, str | None]:
    """The account the query names, and (for a case-number query) the case."""
    if kind == "phone":
        return records.account_by_phone(value), None
    if kind == "id_number":
        return records.account_by_id_number(value), None
    case = records.find_case(value)
    if case is None:
        return None, None
    return records.account_by_id(case["account_id"]), case["case_no"]


def lookup(staff: StaffUser, args: dict) -> dict:
    """Search, record the look-up, and answer with status and next step only (not yet verified)."""
    kind, value = parse_query(args)
    reason, ticket_no = (args.get("reason") or "").strip() or None, (args.get("ticket_no") or "").strip().upper() or None
    if not reason and not ticket_no:
        raise Problem(422, "reason_required", "请填写查询事由或关联工单号", errors={"reason": ["事由和工单号至少填一项"]})
    if ticket_no and tickets.find_ticket(ticket_no) is None:
        raise Problem(422, "ticket_not_found", "关联的工单不存在", errors={"ticket_no": ["工单号不存在"]})
    with transaction():
        account, case_no = _resolve(kind, value)
        now = utcnow()
        row = Lookup(
            operator_id=staff.id,
            query_kind=kind,
            account_id=account.id if account else None,
            case_no=case_no,
            reason=reason,
            ticket_no=ticket_no,
            day=city_today(),
            created_at=now,
            expires_at=now + timedelta(seconds=int(setting("HOTLINE_LOOKUP_TTL_SECONDS"))),
        )
        db.session.add(row)
        db.session.flush()
        view = lookup_view(row, account)
        audit_lookup(staff, row, view, f"hotline.lookup.{kind}")
        oversight.check_operator_activity(staff)
        return view


def own_lookup(staff: StaffUser, lookup_id: str, *, live: bool = True) -> Lookup:
    row = db.session.get(Lookup, lookup_id) if re.fullmatch(r"[0-9a-f]{32}", lookup_id or "") else None
    if row is None or row.operator_id != staff.id:
        raise Problem(404, "lookup_not_found", "查询记录不存在")
    if live and row.expires_at <= utcnow():
        raise Problem(410, "lookup_expired", "本次查询已过期，请重新查询")
    return row


def reread(staff: StaffUser, lookup_id: str) -> dict:
    """The same look-up again (e.g. after verification, or on the operator's second screen); audited."""
    with transaction():
        row = own_lookup(staff, lookup_id)
        account = records.account_by_id(row.account_id) if row.account_id else None
        view = lookup_view(row, account)
        audit_lookup(staff, row, view, "hotline.lookup.read")
        return view


def audit_lookup(staff: StaffUser, row: Lookup, view: dict, action: str) -> None:
    shown = {
        "cases": [case["case_no"] for case in view["cases"]],
        "bookings": [booking["code"] for booking in view["bookings"]],
        "tickets": [ticket["ticket_no"] for ticket in view["tickets"]],
        "deliveries": [delivery.get("waybill_no") for delivery in view["deliveries"]],
    }
    record_audit(
        staff_actor(staff),
        action,
        "account" if row.account_id else "lookup",
        row.account_id or row.id,
        reason=row.reason or f"工单{row.ticket_no}",
        details={
            "lookup_id": row.id,
            "query_kind": row.query_kind,
            "found": row.account_id is not None,
            "verified": row.verified_at is not None,
            "ticket_no": row.ticket_no,
            "shown": shown,
        },
    )


# ------------------------------------------------------------------ the answer


def lookup_view(row: Lookup, account: Account | None) -> dict:
    verified = row.verified_at is not None
    view: dict = {
        "lookup_id": row.id,
        "query_kind": row.query_kind,
        "found": account is not None,
        "verified": verified,
        "expires_at": row.expires_at,
        "verification": _verification_state(row, account),
        "caller": _caller(account, verified),
        "cases": [],
        "bookings": [],
        "deliveries": [],
        "tickets": [],
    }
    if account is None:
        return view
    cases = records.cases_for_account(account.id, RECORD_LIMIT)
    if row.query_kind == "case_no" and not verified:
        # Knowing a case number is not knowing the person: only that case until the caller is verified.
        view["cases"] = [_brief_case(case) for case in cases if case["case_no"] == row.case_no]
        return view
    view["cases"] = [_full_case(case) if verified else _brief_case(case) for case in cases]
    view["bookings"] = [_full_booking(b) if verified else _brief_booking(b) for b in records.bookings_for_account(account.id, RECORD_LIMIT)]
    deliveries = records.deliveries_for_account(account.id)
    view["deliveries"] = deliveries if verified else [{k: d.get(k) for k in BRIEF_DELIVERY_FIELDS} for d in deliveries]
    view["tickets"] = _tickets(account, verified)
    return view


def _verification_state(row: Lookup, account: Account | None) -> dict:
    methods = []
    if account is not None:
        methods = (["id_last4"] if account.id_number else []) + ["sms_code"]
    left = max(int(setting("HOTLINE_VERIFY_MAX_ATTEMPTS")) - row.attempts, 0)
    return {"methods": methods, "method_used": row.verified_method, "attempts_left": left, "locked": left == 0 and row.verified_at is None}


def _caller(account: Account | None, verified: bool) -> dict | None:
    if account is None:
        return None
    caller = {"phone_masked": mask_phone(account.phone), "name_masked": mask_name(account.name), "level": account.level}
    if verified:
        caller["id_number_masked"] = mask_id_number(account.id_number)
    return caller


def _brief_case(case: dict) -> dict:
    return {key: case[key] for key in ("case_no", "item_name", "status", "status_name", "next_step")}


def _full_case(case: dict) -> dict:
    timeline = [event | {"note": mask_text(event["note"])} for event in records.case_timeline(case["case_no"])]
    return {key: value for key, value in case.items() if key != "account_id"} | {"timeline": timeline}


def _brief_booking(booking: dict) -> dict:
    return {key: booking[key] for key in ("code", "item_name", "status", "status_name", "next_step")}


def _full_booking(booking: dict) -> dict:
    return booking


def _tickets(account: Account, verified: bool) -> list[dict]:
    rows = db.session.scalars(
        select(Ticket)
        .where((Ticket.account_id == account.id) | (Ticket.caller_phone_index == blind_index(account.phone, "phone")))
        .order_by(Ticket.created_at.desc())
        .limit(RECORD_LIMIT)
    ).all()
    items = tickets.summaries(list(rows))
    if not verified:
        return [{key: item[key] for key in ("ticket_no", "type_name", "status", "status_name", "next_step")} for item in items]
    by_no = {ticket.ticket_no: ticket for ticket in rows}
    for item in items:
        ticket = by_no[item["ticket_no"]]
        item["answer"] = mask_text(ticket.answer)
        item["history"] = [event | {"note": mask_text(event["note"])} for event in tickets.history(ticket, staff=False)]
    return items
