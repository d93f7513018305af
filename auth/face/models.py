"""Face verification tables (migration 0003_face) and the names of their states.

What is kept: consent grants, challenges, every attempt's decision (never its images), the reference
encoding of a passed verification (encrypted), the pHash of each frame (replay defence), the daily
attempt counter, and the local reference-photo register. ``face_blobs`` holds uploaded images for
seconds, in the embedded default only (see auth/face/store.py).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from auth.models import new_public_id
from mobile_api.extensions import db
from mobile_api.pii import EncryptedText, blind_index_info
from mobile_api.timeutil import UTCDateTime, utcnow


class VerificationStatus(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


class ChallengeMode(StrEnum):
    PASSIVE = "passive"  # two or more live frames of the same person
    ACTION = "action"  # as passive, plus the head turn the challenge asks for


class HeadTurn(StrEnum):
    """The citizen's own left/right (in an unmirrored picture the nose moves the other way)."""

    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"


class ReferenceSource(StrEnum):
    """Where the face to match came from: a verification's ``method`` and a stored reference's ``source``."""

    AUTHORITY = "authority"  # the identity authority's photo (or the local register standing in for it)
    ID_CARD = "id_card"  # the portrait side of the ID card, photographed by the citizen


class BlobKind(StrEnum):
    FRAME = "frame"
    ID_CARD = "id_card"


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
    source: Mapped[str] = mapped_column(String(16))  # ReferenceSource
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferencePhoto(db.Model):
    """Local stand-in for the identity authority's photo register (encrypted; admin-filled)."""

    __tablename__ = "reference_photos"

    id_number_index: Mapped[str] = mapped_column(String(100), primary_key=True, info=blind_index_info("id_number", source="id_number"))
    # The number itself (0009): what `flask pii rotate` re-indexes from. Rows imported before it are
    # given theirs from the accounts/residents with the same index (mobile_api/key_rotation.py).
    id_number: Mapped[str | None] = mapped_column(EncryptedText("face.reference_id_number"))
    photo: Mapped[str] = mapped_column(EncryptedText("face.reference_photo"))  # base64 of the image bytes
    content_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FaceChallenge(db.Model):
    """What the next frames must answer; unexpired and unused, consumed by one verification."""

    __tablename__ = "face_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # ChallengeMode
    actions: Mapped[list] = mapped_column(JSON, default=list)  # [HeadTurn]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaceVerification(db.Model):
    """One attempt: its decision, distance, reason, method and times. Never the images."""

    __tablename__ = "face_verifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("face_challenges.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=VerificationStatus.PENDING)  # VerificationStatus
    reason: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(16))  # ReferenceSource
    mode: Mapped[str] = mapped_column(String(16))  # ChallengeMode
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
    kind: Mapped[str] = mapped_column(String(16))  # BlobKind
    position: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
