"""The service catalog: departments and service items (事项), versioned.

A service item carries the fields of the "三级八同" standard: name, code, type, legal basis,
acceptance conditions, materials, process, time limits — plus what the app needs to know (online,
booking, courier delivery, real-name level). An edit creates a new version; a case keeps the
version it started with.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText
from mobile_api.timeutil import UTCDateTime, utcnow


class ItemType(StrEnum):
    INSTANT = "instant"  # 即办件: done the day it is accepted
    PROMISED = "promised"  # 承诺件: done within the item's promised working days


class DeliveryPayer(StrEnum):
    """Who pays for sending an item's certificate by courier (证照快递)."""

    CITIZEN = "citizen"  # the citizen pays the fee online before it is sent
    GOVERNMENT = "government"  # free to the citizen (费用由政府承担)
    COD = "cod"  # cash on delivery: the citizen pays the courier at the door (到付)


class Department(db.Model):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))


class ServiceItem(db.Model):
    __tablename__ = "service_items"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_service_items_code_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    item_type: Mapped[str] = mapped_column(String(16))  # instant | promised
    audience: Mapped[str] = mapped_column(String(16))  # individual | enterprise
    categories: Mapped[list] = mapped_column(JSON, default=list)  # life events: 出生, 就业, …
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    acceptance_conditions: Mapped[str] = mapped_column(Text, default="")
    # [{code, name, required, original_or_copy, count, formats, notes, certificate_kind}]
    materials: Mapped[list] = mapped_column(JSON, default=list)
    steps: Mapped[list] = mapped_column(JSON, default=list)  # ["受理", "审核", …]
    # [{name, label, type, required}] — the application form this item asks for
    form_fields: Mapped[list] = mapped_column(JSON, default=list)
    statutory_days: Mapped[int] = mapped_column(Integer, default=0)
    promised_days: Mapped[int] = mapped_column(Integer, default=0)
    fee: Mapped[float] = mapped_column(Numeric(10, 2), default=0)
    fee_notes: Mapped[str] = mapped_column(Text, default="")
    required_level: Mapped[int] = mapped_column(Integer, default=2)
    fully_online: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_visit: Mapped[bool] = mapped_column(Boolean, default=True)
    bookable: Mapped[bool] = mapped_column(Boolean, default=True)
    deliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Courier delivery policy: who pays, a fixed fee in yuan (None: the courier's tariff for the region),
    # and the materials whose paper originals the citizen may post to the hall instead of bringing them.
    delivery_payer: Mapped[str] = mapped_column(String(16), default=DeliveryPayer.CITIZEN, server_default=DeliveryPayer.CITIZEN.value)
    delivery_fee: Mapped[float | None] = mapped_column(Numeric(10, 2))
    postal_materials: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Departments that approve in parallel (并联审批); empty: the owning department alone.
    parallel_departments: Mapped[list] = mapped_column(JSON, default=list)
    hall_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Denormalised for search in Chinese on every database: name + code + keywords, and "|出生|就业|".
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    category_tags: Mapped[str] = mapped_column(Text, default="", server_default="")


def item_search_text(item: ServiceItem) -> str:
    return " ".join([item.code or "", item.name or "", *(item.keywords or [])])


def item_category_tags(item: ServiceItem) -> str:
    return "|" + "|".join(item.categories or []) + "|"


@event.listens_for(ServiceItem, "before_insert")
@event.listens_for(ServiceItem, "before_update")
def _refresh_search_columns(_mapper, _connection, item: ServiceItem) -> None:
    item.search_text = item_search_text(item)
    item.category_tags = item_category_tags(item)


class CaseStatus(StrEnum):
    """The lifecycle of a case (see ``cases/lifecycle.py`` for which staff action moves it where)."""

    DRAFT = "draft"
    PREREVIEW_PENDING = "prereview_pending"
    PREREVIEW_RETURNED = "prereview_returned"
    RESUBMITTED = "resubmitted"
    PREREVIEW_PASSED = "prereview_passed"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    APPROVED = "approved"
    REJECTED = "rejected"
    CERTIFICATE_ISSUED = "certificate_issued"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    CLOSED = "closed"


# Named groups of statuses: what the rules ask about a case.
PREREVIEW_STATUSES = (CaseStatus.PREREVIEW_PENDING, CaseStatus.RESUBMITTED)  # waiting for a pre-reviewer; its clock runs
RUNNING_STATUSES = (CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS)  # the statutory clock runs
FINISHED_STATUSES = (  # 办结 and after
    CaseStatus.APPROVED,
    CaseStatus.REJECTED,
    CaseStatus.CERTIFICATE_ISSUED,
    CaseStatus.DELIVERED,
    CaseStatus.COLLECTED,
    CaseStatus.CLOSED,
)
SUBMITTABLE_STATUSES = (CaseStatus.DRAFT, CaseStatus.PREREVIEW_RETURNED)  # the citizen may (re)submit
UPLOADABLE_STATUSES = (CaseStatus.DRAFT, CaseStatus.PREREVIEW_RETURNED, CaseStatus.SUSPENDED)  # the citizen may upload
BEFORE_ACCEPTANCE_STATUSES = (CaseStatus.DRAFT, *PREREVIEW_STATUSES, CaseStatus.PREREVIEW_RETURNED, CaseStatus.PREREVIEW_PASSED)
SUBMITTED_STATUSES = tuple(status for status in CaseStatus if status != CaseStatus.DRAFT)  # staff see it


class Colour(StrEnum):
    """Supervision colour (电子监察) of a case or a rectification: how close its deadline is."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Case(db.Model):
    """One application (办件), from draft to closed. Keeps the item version it started with."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(16), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True, default=CaseStatus.DRAFT)
    current_step: Mapped[str | None] = mapped_column(String(64))
    form: Mapped[dict] = mapped_column(JSON, default=dict)
    # Pre-review
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    prereview_due_on: Mapped[date | None] = mapped_column(Date)
    prereview_returns: Mapped[int] = mapped_column(Integer, default=0)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_materials: Mapped[list] = mapped_column(JSON, default=list)
    # The statutory clock (working days)
    accepted_on: Mapped[date | None] = mapped_column(Date, index=True)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_on: Mapped[date | None] = mapped_column(Date)
    days_left_at_suspension: Mapped[int | None] = mapped_column(Integer)
    suspended_days: Mapped[int] = mapped_column(Integer, default=0)
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    # Outcome (办结)
    finished_on: Mapped[date | None] = mapped_column(Date, index=True)
    working_days_used: Mapped[int | None] = mapped_column(Integer)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    result_reason: Mapped[str | None] = mapped_column(Text)
    # Supervision (电子监察)
    colour: Mapped[str] = mapped_column(String(8), default=Colour.GREEN)
    colour_changes: Mapped[int] = mapped_column(Integer, default=0)
    # 绿色通道: staff mark a key project's case; its bookings may use the places a hall keeps for it.
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    # The citizen's view, materialised on first read per (version, city day); see cases/read_model.py.
    view_version: Mapped[int] = mapped_column(Integer, default=0)
    view_cache_key: Mapped[str | None] = mapped_column(String(40))
    view_cache: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    item: Mapped[ServiceItem] = relationship()


class CaseEvent(db.Model):
    """The timeline: one row per transition or notable fact. ``visible``: shown to the citizen."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    effective_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    internal_note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)


class StoredFile(db.Model):
    """Upload bytes, in the database for now (no object store in the embedded default)."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseMaterial(db.Model):
    """One required material of a case: an uploaded, checked file or a certificate from the library."""

    __tablename__ = "case_materials"
    __table_args__ = (UniqueConstraint("case_id", "material_code", name="uq_case_materials_case_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    material_code: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # upload | certificate
    check_ok: Mapped[bool] = mapped_column(Boolean)
    check: Mapped[dict] = mapped_column(JSON, default=dict)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    filename: Mapped[str | None] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApprovalTask(db.Model):
    """Parallel approval (并联审批): one task per department; the case moves on when all are done."""

    __tablename__ = "case_approval_tasks"
    __table_args__ = (UniqueConstraint("case_id", "department_code", name="uq_case_approval_tasks_case_dept"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(64))
    opinion: Mapped[str | None] = mapped_column(Text)


class Certificate(db.Model):
    """An electronic certificate (电子证照) in the shared library, keyed by its holder's account."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    holder_name: Mapped[str | None] = mapped_column(EncryptedText("certificate.holder_name"))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rating(db.Model):
    """好差评 (GB/T 39734): one per case, 5 = 非常满意 … 1 = 非常不满意."""

    __tablename__ = "case_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Rectification(db.Model):
    """A bad rating (差评) opens a rectification for the department, with a working-day deadline."""

    __tablename__ = "case_rectifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("case_ratings.id", ondelete="CASCADE"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    colour: Mapped[str] = mapped_column(String(8), default=Colour.GREEN)
    colour_changes: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Staff and citizens know a case by its case_no, never by the internal id (joined: lists stay one query).
    case: Mapped[Case] = relationship(lazy="joined")


class SupervisionWarning(db.Model):
    """A warning raised by the deadline scan, once per colour change, to a role of a department."""

    __tablename__ = "supervision_warnings"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "colour_change", "role", name="uq_supervision_warnings_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # case | rectification
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    case_no: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    colour: Mapped[str] = mapped_column(String(8))
    colour_change: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(24))  # officer | supervisor
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
