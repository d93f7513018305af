"""Accounts, sign-in codes, refresh-token families, staff users and the identity registry.

Face verification keeps its own tables in ``auth/face/models.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText, blind_index_info
from mobile_api.timeutil import UTCDateTime, utcnow


def new_public_id() -> str:
    return uuid.uuid4().hex


class Account(db.Model):
    """A citizen (or enterprise agent). ``level``: 1 phone, 2 name + ID checked, 3 face verified."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    # NULL once the account is closed (auth/closure.py): the number is free for a new account.
    phone: Mapped[str | None] = mapped_column(String(11), unique=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str | None] = mapped_column(EncryptedText("account.name"))
    id_number: Mapped[str | None] = mapped_column(EncryptedText("account.id_number"))
    # HMAC blind index: one account per ID number, enforced by the database.
    id_number_index: Mapped[str | None] = mapped_column(String(100), unique=True, info=blind_index_info("id_number", source="id_number"))
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 0009: set when the citizen closed the account (DELETE /api/v1/me); the row stays as the
    # anonymous holder of the case and booking records the law requires to be kept.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CompanyBinding(db.Model):
    """An enterprise an agent acts for, identified by its unified social credit code."""

    __tablename__ = "company_bindings"
    __table_args__ = (UniqueConstraint("account_id", "credit_code", name="uq_company_bindings_account_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    company_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsCode(db.Model):
    """The current sign-in code for a phone, hashed, with its attempt and daily counters.

    One row per phone so that every check (cooldown, daily cap, attempts) is a single conditional
    UPDATE: atomic on PostgreSQL and SQLite, whatever number of web processes race on it.
    """

    __tablename__ = "sms_codes"

    phone: Mapped[str] = mapped_column(String(11), primary_key=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    day_count: Mapped[int] = mapped_column(Integer, default=0)


class RefreshToken(db.Model):
    """One issued refresh token. Tokens of one sign-in share a ``family_id``; reuse kills the family."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedToken(db.Model):
    """The revocation list, always written (Redis, when configured, is a copy that can be lost and is
    reloaded from here). Keys: ``jti:…``, ``fam:…``."""

    __tablename__ = "revoked_tokens"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # 0008_robustness: recent rows are copied to Redis again by the beat job (a write Redis missed).
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True, default=utcnow)


class StaffUser(db.Model):
    """A member of staff. Roles are scoped to departments (codes) and halls (ids)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    department_codes: Mapped[list] = mapped_column(JSON, default=list)
    hall_ids: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0008_robustness: wrong passwords in a row, and the lockout they caused (auth/lockout.py).
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Resident(db.Model):
    """The local identity registry: who the population registry would confirm (demo/test/CSV)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number_index: Mapped[str] = mapped_column(String(100), unique=True, info=blind_index_info("id_number", source="id_number"))
    id_number: Mapped[str] = mapped_column(EncryptedText("resident.id_number"))
    name: Mapped[str] = mapped_column(EncryptedText("resident.name"))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DataExportStatus(StrEnum):
    BUILDING = "building"  # the task is collecting every package's part
    READY = "ready"  # downloadable once, until expires_at
    DOWNLOADED = "downloaded"  # the one download happened; the payload is gone
    EXPIRED = "expired"  # not downloaded in time; the payload is gone
    FAILED = "failed"


class DataExport(db.Model):
    """A citizen's copy of everything we hold about them (PIPL art. 45), built by a task.

    The payload is encrypted, downloadable once within DATA_EXPORT_TTL_HOURS, and deleted when
    downloaded or expired; the row stays as the record that the request was answered.
    """

    __tablename__ = "data_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DataExportStatus.BUILDING)
    payload: Mapped[str | None] = mapped_column(EncryptedText("data_export.payload"))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
