"""The service catalog: departments and service items (事项), versioned.

A service item carries the fields of the "三级八同" standard: name, code, type, legal basis,
acceptance conditions, materials, process, time limits — plus what the app needs to know (online,
booking, courier delivery, real-name level). An edit creates a new version; a case keeps the
version it started with.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.timeutil import UTCDateTime, utcnow

INSTANT = "instant"  # 即办件
PROMISED = "promised"  # 承诺件


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
    # Departments that approve in parallel (并联审批); empty: the owning department alone.
    parallel_departments: Mapped[list] = mapped_column(JSON, default=list)
    hall_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
