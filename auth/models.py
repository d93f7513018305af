"""Accounts, sign-in codes, refresh-token families, staff users and the identity registry."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.pii import EncryptedText
from mobile_api.timeutil import UTCDateTime, utcnow


def new_public_id() -> str:
    return uuid.uuid4().hex


class Account(db.Model):
    """A citizen (or enterprise agent). ``level``: 1 phone, 2 name + ID checked, 3 face verified."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str | None] = mapped_column(EncryptedText("account.name"))
    id_number: Mapped[str | None] = mapped_column(EncryptedText("account.id_number"))
    # HMAC blind index: one account per ID number, enforced by the database.
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
    """The revocation list when there is no Redis (embedded default). Keys: ``jti:…``, ``fam:…``."""

    __tablename__ = "revoked_tokens"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


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


class Resident(db.Model):
    """The local identity registry: who the population registry would confirm (demo/test/CSV)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number: Mapped[str] = mapped_column(EncryptedText("resident.id_number"))
    name: Mapped[str] = mapped_column(EncryptedText("resident.name"))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Face verification (real-name level 3) --------------------------------------------------------


class FaceConsent(db.Model):
    """A citizen's separate consent to face processing (PIPL art. 28–29), one row per grant."""

    __tablename__ = "face_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    consent_version: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaceReference(db.Model):
    """The encoding of the reference face that verified an account: encrypted, deleted on withdrawal."""

    __tablename__ = "face_references"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    encoding: Mapped[str] = mapped_column(EncryptedText("face.reference_encoding"))
    source: Mapped[str] = mapped_column(String(16))  # authority | id_card
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferencePhoto(db.Model):
    """Local stand-in for the identity authority's photo register (encrypted; admin-filled)."""

    __tablename__ = "reference_photos"

    id_number_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    photo: Mapped[str] = mapped_column(EncryptedText("face.reference_photo"))  # base64 of the image bytes
    content_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FaceChallenge(db.Model):
    """What the next frames must answer; unexpired and unused, consumed by one verification."""

    __tablename__ = "face_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # passive | action
    actions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaceVerification(db.Model):
    """One attempt: its decision, distance, reason, method and times. Never the images."""

    __tablename__ = "face_verifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("face_challenges.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | passed | failed
    reason: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(16))  # authority | id_card
    mode: Mapped[str] = mapped_column(String(16))
    frame_count: Mapped[int] = mapped_column(Integer)
    distance: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    day: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaceAttemptDay(db.Model):
    """Per account and city day: attempts that are pending or failed. One conditional UPDATE guards it."""

    __tablename__ = "face_attempt_days"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class FaceFrameHash(db.Model):
    """Perceptual hash of every frame ever submitted (replay defence), split in 5 indexed bands.

    A 64-bit pHash is not a face template: it cannot be turned back into a face or matched against
    another photo of the person, only against (near-)copies of the same picture.
    """

    __tablename__ = "face_frame_hashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verification_id: Mapped[str] = mapped_column(ForeignKey("face_verifications.id", ondelete="CASCADE"), index=True)
    phash: Mapped[str] = mapped_column(String(16))
    band0: Mapped[int] = mapped_column(Integer, index=True)
    band1: Mapped[int] = mapped_column(Integer, index=True)
    band2: Mapped[int] = mapped_column(Integer, index=True)
    band3: Mapped[int] = mapped_column(Integer, index=True)
    band4: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FaceBlob(db.Model):
    """Embedded default only (no Redis): an uploaded image, encrypted, until the face worker is done.

    The worker deletes its rows when it finishes; a beat job deletes whatever outlived its TTL.
    """

    __tablename__ = "face_blobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verification_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # frame | id_card
    position: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
