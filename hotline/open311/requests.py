"""GeoReport service requests: post one (realtime: a ticket now; batch: a token, the ticket from a
worker), list them (90 days / 1000 results by default), read one, resolve a token.

What is public (:func:`public_view`): the service, status, dates, the responsible department and a
coarse location (0.01°, house numbers masked) of every ticket. The words of the request and of the
answer only for tickets whose caller agreed to publish them (every Open311 request, and tickets
recorded with ``publish``), masked when written. Never a phone, a name, an e-mail, an exact address,
an address id, a media URL or a related case, booking or delivery.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import select, update

from cases import catalog
from cases.lookup import catalog_changed_at, find_case, item_names
from hotline.masking import coarse_address, coarse_coordinate, mask_text
from hotline.models import Open311ApiKey, Open311Submission, SubmissionStatus, Ticket, TicketSource, TicketStatus
from hotline.open311.services import BATCH, COMPLAINT_KINDS, Service, service, service_name
from hotline.service import TicketDraft, write_ticket
from hotline.tickets import response_days
from mobile_api.celery_app import celery
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)
INTAKE_TASK = "hotline.intake_open311_submission"
W3C_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
STATUS_NOTES = {
    TicketStatus.CREATED: "已受理，待转办",
    TicketStatus.ASSIGNED: "已转办至责任部门办理",
    TicketStatus.SENT_BACK: "正在重新确定责任部门",
    TicketStatus.ANSWERED: "责任部门已答复，待回访",
    TicketStatus.CLOSED: "已办结",
}


def w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(CITY_TZ).isoformat(timespec="seconds") if moment else None


def check_jurisdiction(args: dict) -> None:
    given = args.get("jurisdiction_id")
    if given and given != setting("HOTLINE_OPEN311_JURISDICTION"):
        raise Problem(404, "jurisdiction_not_found", f"jurisdiction_id {given} 不存在")


def service_notice(service_: Service) -> str:
    days = response_days(service_.ticket_type)
    if service_.type == BATCH:
        return f"经审核受理后转办责任部门，{days}个工作日内答复；受理编号请用 token 查询"
    return f"12345热线将转办责任部门，{days}个工作日内答复"


# ------------------------------------------------------------------ POST requests.json


def _location(args: dict) -> dict:
    has_lat, has_long = args.get("lat") is not None, args.get("long") is not None
    has_point = has_lat and has_long
    if has_lat != has_long:
        raise Problem(400, "location_incomplete", "lat 与 long 须同时提供")
    if not (has_point or args.get("address_string") or args.get("address_id")):
        raise Problem(400, "location_required", "须提供位置：lat 与 long、address_string 或 address_id 之一")
    return {
        "lat": args.get("lat"),
        "long": args.get("long"),
        "address": args.get("address_string"),
        "address_id": args.get("address_id"),
        "media_url": args.get("media_url"),
    }


def _checked_attributes(service_: Service, attributes: dict) -> dict:
    known = {attribute["code"]: attribute for attribute in service_.attributes}
    errors = [f"attribute[{code}] 不是服务 {service_.service_code} 的属性" for code in attributes if code not in known]
    for code, attribute in known.items():
        value = attributes.get(code)
        if attribute["required"] and not value:
            errors.append(f"attribute[{code}] 必填：{attribute['description']}")
        elif value and attribute["datatype"] == "singlevaluelist" and value not in {v["key"] for v in attribute["values"]}:
            errors.append(f"attribute[{code}] 取值不在可选范围内")
    if errors:
        raise Problem(400, "attributes_invalid", "；".join(errors), errors=errors)
    return {code: attributes[code] for code in known if attributes.get(code)}


def _case_no(attributes: dict) -> str | None:
    if "case_no" not in attributes:
        return None
    case = find_case(str(attributes["case_no"]))
    if case is None:
        raise Problem(400, "case_not_found", "attribute[case_no] 办件号不存在", errors=["attribute[case_no] 办件号不存在"])
    return case["case_no"]


def _draft(key: Open311ApiKey, service_: Service, args: dict, attributes: dict) -> TicketDraft:
    case_no = _case_no(attributes)
    content = args.get("description") or service_.service_name
    kind = next((kind["name"] for kind in COMPLAINT_KINDS if kind["key"] == attributes.get("complaint_kind")), None)
    phone = re.sub(r"^\+?86[- ]?", "", args["phone"]).replace("-", "") if args.get("phone") else None
    return TicketDraft(
        ticket_type=service_.ticket_type,
        content=f"【{kind}】{content}" if kind else content,
        source=TicketSource.OPEN311,
        created_by=f"open311:{key.key_prefix}",
        caller_phone=phone,
        caller_name=(args.get("last_name", "") + args.get("first_name", "")) or None,
        caller_email=args.get("email"),
        case_no=case_no,
        item_code=service_.item_code or (find_case(case_no)["item_code"] if case_no else None),
        public_text=True,
        service_code=service_.service_code,
        location=_location(args),
        api_key_id=key.id,
    )


def submit(key: Open311ApiKey, args: dict, attributes: dict) -> tuple[list[dict], int | None]:
    """A realtime service answers the ticket number; the batch one a token (returns the submission to publish)."""
    check_jurisdiction(args)
    if not args.get("service_code"):
        raise Problem(400, "service_code_required", "service_code 必填")
    service_ = service(args["service_code"])
    checked = _checked_attributes(service_, attributes)
    with transaction():
        draft = _draft(key, service_, args, checked)
        key.last_used_at = utcnow()
        notice = service_notice(service_)
        if service_.type == BATCH:
            token = secrets.token_hex(16)
            payload = json.dumps({"args": {k: v for k, v in args.items() if k != "api_key"}, "attributes": checked}, ensure_ascii=False)
            submission = Open311Submission(
                token=token, api_key_id=key.id, service_code=service_.service_code, payload=payload, created_at=utcnow()
            )
            db.session.add(submission)
            db.session.flush()
            return [{"token": token, "service_notice": notice, "account_id": None}], submission.id
        ticket = write_ticket(draft)
        return [{"service_request_id": ticket.ticket_no, "service_notice": notice, "account_id": None}], None


def publish_intake(submission_id: int) -> None:
    """Hand a batch submission to a worker; if the broker is down the sweep picks it up later."""
    try:
        celery.send_task(INTAKE_TASK, args=[submission_id])
    except Exception:  # the broker being down must not fail a request whose row is committed
        log.warning("open311 submission %s not published; the sweep will take it", submission_id, exc_info=True)


class _AlreadyTaken(Exception):
    """Another worker turned the submission into a ticket first: roll this one back."""


def intake_submission(submission_id: int) -> str:
    """Turn a pending batch submission into a ticket, once (a conditional UPDATE decides the winner).

    A submission that can no longer become a ticket (its service left the catalog, its case is gone)
    is marked failed with the reason instead of being retried for ever.
    """
    try:
        with transaction():
            submission = db.session.get(Open311Submission, submission_id)
            if submission is None or submission.status != SubmissionStatus.PENDING:
                return "skipped"
            key = db.session.get(Open311ApiKey, submission.api_key_id)
            payload = json.loads(submission.payload)
            ticket = write_ticket(_draft(key, service(submission.service_code), payload["args"], payload["attributes"]))
            claimed = db.session.execute(
                update(Open311Submission)
                .where(Open311Submission.id == submission_id, Open311Submission.status == SubmissionStatus.PENDING)
                .values(status=SubmissionStatus.DONE, ticket_id=ticket.id, processed_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                raise _AlreadyTaken()
            return ticket.ticket_no
    except _AlreadyTaken:
        return "taken"
    except Problem as problem:
        with transaction():
            db.session.execute(
                update(Open311Submission)
                .where(Open311Submission.id == submission_id, Open311Submission.status == SubmissionStatus.PENDING)
                .values(status=SubmissionStatus.FAILED, error=problem.title, processed_at=utcnow())
            )
        return "failed"


def sweep_submissions(older_than_seconds: int = 30) -> int:
    """Re-publish pending submissions the broker never delivered."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = db.session.scalars(
        select(Open311Submission.id)
        .where(Open311Submission.status == SubmissionStatus.PENDING, Open311Submission.created_at < cutoff)
        .limit(500)
    ).all()
    db.session.rollback()
    for submission_id in ids:
        publish_intake(submission_id)
    return len(ids)


def token_status(token: str, args: dict) -> list[dict]:
    """The ticket number of a batch request (null while the worker has not made the ticket yet);
    a submission that could not become a ticket answers 400 with the reason."""
    check_jurisdiction(args)
    row = db.session.execute(
        select(Open311Submission.token, Open311Submission.status, Open311Submission.error, Ticket.ticket_no)
        .outerjoin(Ticket, Ticket.id == Open311Submission.ticket_id)
        .where(Open311Submission.token == token)
    ).first()
    if row is None:
        raise Problem(404, "token_not_found", f"token {token} 不存在")
    if row.status == SubmissionStatus.FAILED:
        raise Problem(400, "request_not_accepted", f"该请求未能受理：{row.error}")
    return [{"service_request_id": row.ticket_no, "token": row.token}]


# ------------------------------------------------------------------ GET requests


def _moment(value: str, name: str, end: bool) -> datetime:
    """A W3C date/time; a date alone means the start (or, for end_date, the end) of that city day."""
    try:
        if W3C_DATE.match(value):
            parts = [int(p) for p in value.split("-")] + [1, 1]
            day = datetime(parts[0], parts[1], parts[2], tzinfo=CITY_TZ)
            return day + timedelta(days=1) if end and len(value) == 10 else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, "date_invalid", f"{name} 不是有效的 W3C 时间（如 2026-11-01T00:00:00+08:00）") from None
    if moment.tzinfo is None:
        raise Problem(400, "date_without_zone", f"{name} 须带时区（Z 或 +08:00）")
    return moment


def _window(args: dict) -> tuple[datetime, datetime]:
    span = timedelta(days=int(setting("HOTLINE_OPEN311_MAX_DAYS")))
    start = _moment(args["start_date"], "start_date", end=False) if args.get("start_date") else None
    end = _moment(args["end_date"], "end_date", end=True) if args.get("end_date") else None
    if start is None and end is None:
        end = utcnow() + timedelta(seconds=1)
        start = end - span
    elif start is None:
        start = end - span
    elif end is None:
        end = start + span
    if end < start:
        raise Problem(400, "date_range_invalid", "end_date 不能早于 start_date")
    if end - start > span + timedelta(days=1):
        raise Problem(400, "date_range_too_long", f"start_date 到 end_date 不能超过{span.days}天")
    return start, end


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def list_requests(args: dict) -> list[dict]:
    check_jurisdiction(args)
    limit = int(setting("HOTLINE_OPEN311_MAX_RESULTS"))
    ids = _csv(args.get("service_request_id"))
    statement = select(Ticket)
    if ids:  # "This overrides all other arguments."
        statement = statement.where(Ticket.ticket_no.in_([i.upper() for i in ids[:limit]]))
    else:
        start, end = _window(args)
        statement = statement.where(Ticket.created_at >= start, Ticket.created_at < end)
        if codes := _csv(args.get("service_code")):
            statement = statement.where(Ticket.service_code.in_(codes))
        if statuses := _csv(args.get("status")):
            if set(statuses) - {"open", "closed"}:
                raise Problem(400, "status_invalid", "status 只能是 open、closed（可逗号分隔）")
            if statuses == ["open"] or statuses == ["closed"]:
                closed = Ticket.status == TicketStatus.CLOSED
                statement = statement.where(closed if statuses == ["closed"] else ~closed)
    page_size = min(args.get("page_size") or limit, limit)
    page = args.get("page") or 1
    rows = db.session.scalars(
        statement.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return public_views(list(rows))


def get_request(service_request_id: str, args: dict) -> list[dict]:
    check_jurisdiction(args)
    ticket = db.session.scalar(select(Ticket).where(Ticket.ticket_no == service_request_id.strip().upper()))
    if ticket is None:
        raise Problem(404, "service_request_not_found", f"service_request_id {service_request_id} 不存在")
    return public_views([ticket])


def public_views(tickets: list[Ticket]) -> list[dict]:
    names = catalog.department_names({t.department_code for t in tickets if t.department_code})
    items = item_names(
        {t.service_code.removeprefix("consultation-") for t in tickets if t.service_code and t.service_code.startswith("consultation-")}
    )
    return [public_view(ticket, names, items) for ticket in tickets]


def public_view(ticket: Ticket, departments: dict[str, str], items: dict[str, str]) -> dict:
    """A ticket as the world may see it (GeoReport field names, in the spec's order)."""
    public = ticket.public_text
    notes = STATUS_NOTES[TicketStatus(ticket.status)]
    if public and ticket.answer and ticket.status in (TicketStatus.ANSWERED, TicketStatus.CLOSED):
        notes += "。答复：" + (mask_text(ticket.answer) or "")
    expected = datetime.combine(ticket.due_on, time(23, 59, 59), tzinfo=CITY_TZ) if ticket.due_on else None
    return {
        "service_request_id": ticket.ticket_no,
        "status": "closed" if ticket.status == TicketStatus.CLOSED else "open",
        "status_notes": notes,
        "service_name": service_name(ticket.service_code or str(ticket.ticket_type), items),
        "service_code": ticket.service_code or str(ticket.ticket_type),
        "description": ticket.public_description if public else None,
        "agency_responsible": departments.get(ticket.department_code) if ticket.department_code else None,
        "service_notice": f"{response_days(ticket.ticket_type)}个工作日内答复",
        "requested_datetime": w3c(ticket.created_at),
        "updated_datetime": w3c(ticket.closed_at or ticket.updated_at),
        "expected_datetime": w3c(expected),
        "address": coarse_address(ticket.address) if public else None,
        "address_id": None,
        "zipcode": None,
        "lat": coarse_coordinate(ticket.lat),
        "long": coarse_coordinate(ticket.long),
        "media_url": None,
    }


def discovery(base_url: str) -> dict:
    changed = catalog_changed_at()
    changeset = w3c(changed) or "2026-11-23T00:00:00+08:00"
    return {
        "changeset": changeset,
        "contact": setting("HOTLINE_OPEN311_CONTACT"),
        "key_service": setting("HOTLINE_OPEN311_KEY_SERVICE"),
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base_url.rstrip("/") + "/open311/v2",
                "changeset": changeset,
                "type": "production" if current_app.config.get("PRODUCTION") else "test",
                "formats": ["application/json"],
            }
        ],
    }
