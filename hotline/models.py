"""The 12345 hotline's tables: tickets (工单) and their history and warnings, operator look-ups and
their verification, per-phone notice counters, operator flags, and the Open311 keys and submissions.

Personal data is encrypted at rest (caller phone, name, e-mail, the caller's words, the department's
answer, the address) with blind indexes for the exact look-ups; what Open311 publishes is a masked
copy made when the ticket is written (``public_description``), never the stored words.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText
from mobile_api.timeutil import UTCDateTime, utcnow


def new_public_id() -> str:
    return uuid.uuid4().hex


class TicketType(enum.StrEnum):
    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    HELP = "help"  # 求助
    PRAISE = "praise"  # 表扬


TICKET_TYPE_NAMES = {
    TicketType.CONSULTATION: "咨询",
    TicketType.COMPLAINT: "投诉",
    TicketType.REPORT: "举报",
    TicketType.SUGGESTION: "建议",
    TicketType.HELP: "求助",
    TicketType.PRAISE: "表扬",
}


class TicketStatus(enum.StrEnum):
    CREATED = "created"  # 受理: recorded, not yet routed
    ASSIGNED = "assigned"  # 转办: routed to a department, its clock runs
    SENT_BACK = "sent_back"  # 退回: the department says it was mis-routed; the hotline re-routes
    ANSWERED = "answered"  # 答复: the department answered; waiting for the return call
    CLOSED = "closed"  # 办结


TICKET_STATUS_NAMES = {
    TicketStatus.CREATED: "已受理，待转办",
    TicketStatus.ASSIGNED: "已转办，部门办理中",
    TicketStatus.SENT_BACK: "部门退回，待重新转办",
    TicketStatus.ANSWERED: "部门已答复，待回访",
    TicketStatus.CLOSED: "已办结",
}
OPEN_STATUSES = (TicketStatus.CREATED, TicketStatus.ASSIGNED, TicketStatus.SENT_BACK, TicketStatus.ANSWERED)


class TicketSource(enum.StrEnum):
    HOTLINE = "hotline"  # recorded by an operator during a call
    APP = "app"  # opened by the citizen in the app
    OPEN311 = "open311"  # posted by a third-party app


class Satisfaction(enum.StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


SATISFACTION_NAMES = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.UNSATISFIED: "不满意",
}


class Colour(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Ticket(db.Model):
    """One hotline ticket, from 受理 to 办结. ``due_on`` is the department's response deadline."""

    __tablename__ = "hotline_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(16), unique=True)
    ticket_type: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=TicketStatus.CREATED)
    source: Mapped[str] = mapped_column(String(16), default=TicketSource.HOTLINE)
    service_code: Mapped[str | None] = mapped_column(String(80))
    # The caller
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    caller_phone: Mapped[str | None] = mapped_column(EncryptedText("hotline.caller_phone"))
    caller_phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_name: Mapped[str | None] = mapped_column(EncryptedText("hotline.caller_name"))
    caller_email: Mapped[str | None] = mapped_column(EncryptedText("hotline.caller_email"))
    # What was said, and the copy that may be published (masked when written; None: not public)
    content: Mapped[str] = mapped_column(EncryptedText("hotline.content"))
    public_text: Mapped[bool] = mapped_column(Boolean, default=False)
    public_description: Mapped[str | None] = mapped_column(Text)
    # What it is about
    item_code: Mapped[str | None] = mapped_column(String(64), index=True)
    case_no: Mapped[str | None] = mapped_column(String(16), index=True)
    booking_code: Mapped[str | None] = mapped_column(String(8))
    delivery_no: Mapped[str | None] = mapped_column(String(40))
    # Where (Open311 requests); the exact address is personal data
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(EncryptedText("hotline.address"))
    address_id: Mapped[str | None] = mapped_column(String(64))
    media_url: Mapped[str | None] = mapped_column(String(500))
    # Routing (转办) and the department's clock
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_back_count: Mapped[int] = mapped_column(Integer, default=0)
    # Supervision (督办)
    colour: Mapped[str] = mapped_column(String(8), default=Colour.GREEN)
    colour_changes: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Answer (答复), return call (回访), reopening
    answer: Mapped[str | None] = mapped_column(EncryptedText("hotline.answer"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_on_time: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Provenance
    created_by: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_open311_keys.id"))
    lookup_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TicketEvent(db.Model):
    """The history: one row per step, with who and when."""

    __tablename__ = "hotline_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hotline_tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(EncryptedText("hotline.event_note"))
    data: Mapped[dict | None] = mapped_column(JSON)


class TicketWarning(db.Model):
    """A yellow warning or a red escalation (督办), once per colour change and role."""

    __tablename__ = "hotline_ticket_warnings"
    __table_args__ = (UniqueConstraint("ticket_id", "colour_change", "role", name="uq_hotline_ticket_warnings_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hotline_tickets.id", ondelete="CASCADE"), index=True)
    ticket_no: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    colour: Mapped[str] = mapped_column(String(8))
    colour_change: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(24))  # officer | department_head | supervisor
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Lookup(db.Model):
    """One operator look-up: what was asked, whose records were found, and the caller's verification."""

    __tablename__ = "hotline_lookups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    operator_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    query_kind: Mapped[str] = mapped_column(String(16))  # case_no | phone | id_number
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    case_no: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_no: Mapped[str | None] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_method: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # answers checked (right or wrong)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)


class VerificationDay(db.Model):
    """Verification answers checked per account and city day, across all look-ups and operators."""

    __tablename__ = "hotline_verification_days"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)


class NoticeDay(db.Model):
    """One-time notices sent by SMS per phone (blind index) and city day."""

    __tablename__ = "hotline_notice_days"

    phone_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)


class OperatorFlag(db.Model):
    """An operator whose look-ups far exceeded their calls on a city day, for supervisors to review."""

    __tablename__ = "hotline_operator_flags"
    __table_args__ = (UniqueConstraint("operator_id", "day", name="uq_hotline_operator_flags_operator_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    lookups: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_note: Mapped[str | None] = mapped_column(Text)


class Open311ApiKey(db.Model):
    """A third-party app's Open311 key. Only its SHA-256 is stored; the key is shown once."""

    __tablename__ = "hotline_open311_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubmissionStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Open311Submission(db.Model):
    """A request to a batch service: answered with a token; a worker turns it into a ticket."""

    __tablename__ = "hotline_open311_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("hotline_open311_keys.id"))
    service_code: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(EncryptedText("hotline.open311_payload"))
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.PENDING, index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_tickets.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
