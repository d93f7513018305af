"""Face verification, web side: consent, challenges, submitting frames, reading a verification.

Nothing here decodes pixels: uploads are checked by their headers only (format → 415, bytes and
pixels → 413), put in the transient store (auth/face/store.py) and the decision is queued for the
face worker (auth/face/verification.py). A citizen may wait for the answer inline (``wait``).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from sqlalchemy import delete, select, update
from werkzeug.datastructures import FileStorage

from auth.face import images, store
from auth.face.attempts import check_not_locked, record_decision, take_attempt
from auth.face.dispatch import queue_verification, wait_for_decided_signal
from auth.face.messages import reason_title
from auth.face.models import (
    ChallengeMode,
    FaceChallenge,
    FaceConsent,
    FaceReference,
    FaceVerification,
    HeadTurn,
    ReferenceSource,
    VerificationStatus,
)
from auth.models import Account
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import city_today, utcnow
from mobile_api.transactions import transaction

MIN_FRAMES = 2
_POLL_SECONDS = 0.05  # without Redis, how often a waiting request looks at the database


# --- Consent --------------------------------------------------------------------------------------


def _active_consent(account: Account) -> FaceConsent | None:
    return db.session.scalar(
        select(FaceConsent)
        .where(FaceConsent.account_id == account.id, FaceConsent.withdrawn_at.is_(None))
        .order_by(FaceConsent.id.desc())
        .limit(1)
    )


def consent_status(account: Account) -> dict:
    consent = _active_consent(account)
    current = setting("FACE_CONSENT_VERSION")
    return {
        "current_version": current,
        "consented": consent is not None and consent.consent_version == current,
        "consent_version": consent.consent_version if consent else None,
        "granted_at": consent.granted_at if consent else None,
    }


def grant_consent(account: Account, consent_version: str) -> dict:
    current = setting("FACE_CONSENT_VERSION")
    if consent_version != current:
        raise Problem(422, "face_consent_version_outdated", "授权书已更新，请阅读最新版本后再同意", current_version=current)
    with transaction():
        consent = _active_consent(account)
        if consent is None or consent.consent_version != current:
            db.session.add(FaceConsent(account_id=account.id, consent_version=current))
    return consent_status(account)


def withdraw_consent(account: Account) -> None:
    """Withdraw: the stored face encoding is deleted, pending attempts stop, their images are dropped."""
    with transaction():
        db.session.execute(
            update(FaceConsent)
            .where(FaceConsent.account_id == account.id, FaceConsent.withdrawn_at.is_(None))
            .values(withdrawn_at=utcnow())
        )
        db.session.execute(delete(FaceReference).where(FaceReference.account_id == account.id))
        pending = db.session.scalars(
            select(FaceVerification).where(FaceVerification.account_id == account.id, FaceVerification.status == VerificationStatus.PENDING)
        ).all()
        for verification in pending:
            record_decision(verification, VerificationStatus.FAILED, "consent_withdrawn", None)
    for verification in pending:
        store.drop_images(verification.id, verification.frame_count)


def _require_consent(account: Account) -> None:
    consent = _active_consent(account)
    current = setting("FACE_CONSENT_VERSION")
    if consent is None or consent.consent_version != current:
        raise Problem(
            403,
            "face_consent_required",
            "使用人脸识别前，请先阅读并同意《人脸信息处理授权书》",
            consent_version=current,
        )


# --- Challenges -----------------------------------------------------------------------------------


def create_challenge(account: Account, mode: ChallengeMode) -> dict:
    _require_consent(account)
    check_not_locked(account)
    actions = [secrets.choice([HeadTurn.TURN_LEFT, HeadTurn.TURN_RIGHT])] if mode == ChallengeMode.ACTION else []
    with transaction():
        challenge = FaceChallenge(
            account_id=account.id, mode=mode, actions=actions, expires_at=utcnow() + timedelta(seconds=setting("FACE_CHALLENGE_SECONDS"))
        )
        db.session.add(challenge)
    return {
        "challenge_id": challenge.id,
        "expires_at": challenge.expires_at,
        "mode": challenge.mode,
        "actions": challenge.actions,
        "min_frames": MIN_FRAMES,
        "max_frames": setting("FACE_MAX_FRAMES"),
    }


def _consume_challenge(account: Account, challenge_id: str) -> FaceChallenge:
    """Mark the challenge used (one conditional UPDATE: of concurrent submissions exactly one wins)."""
    now = utcnow()
    used = db.session.execute(
        update(FaceChallenge)
        .where(
            FaceChallenge.id == challenge_id,
            FaceChallenge.account_id == account.id,
            FaceChallenge.used_at.is_(None),
            FaceChallenge.expires_at > now,
        )
        .values(used_at=now)
    ).rowcount
    challenge = db.session.get(FaceChallenge, challenge_id)
    if challenge is None or challenge.account_id != account.id:
        raise Problem(404, "face_challenge_not_found", "认证请求不存在，请重新开始")
    if not used:
        if challenge.used_at is not None:
            raise Problem(409, "face_challenge_used", "该认证请求已使用，请重新开始")
        raise Problem(410, "face_challenge_expired", "认证请求已过期，请重新开始")
    return challenge


# --- Submission -------------------------------------------------------------------------------------


def _read_upload(upload: FileStorage, field: str) -> bytes:
    max_bytes = setting("FACE_MAX_IMAGE_BYTES")
    data = upload.stream.read(max_bytes + 1)
    try:
        images.inspect_upload(data, max_bytes=max_bytes, max_pixels=setting("FACE_MAX_PIXELS"))
    except images.FaceImageError as exc:
        raise Problem(
            exc.status,
            exc.reason,
            reason_title(exc.reason, "图片无法识别"),
            errors={field: [reason_title(exc.reason, exc.reason)]},
        ) from None
    return data


def submit_verification(
    account: Account, challenge_id: str, frames: list[FileStorage], id_card_photo: FileStorage | None = None, wait: float = 0
) -> tuple[dict, int]:
    """Check the uploads' headers, consume the challenge, count the attempt, queue ``face.verify``.

    One transaction: a refusal (used or expired challenge, daily limit) leaves the challenge and the
    counter as they were.
    """
    _require_consent(account)
    if len(frames) > setting("FACE_MAX_FRAMES"):
        raise Problem(422, "face_too_many_frames", f"最多上传{setting('FACE_MAX_FRAMES')}张照片", errors={"frames": ["照片太多"]})
    if len(frames) < MIN_FRAMES:
        raise Problem(422, "face_frames_required", "请按提示连续拍摄至少2张照片", errors={"frames": ["至少需要2张照片"]})
    frame_data = [_read_upload(upload, "frames") for upload in frames]
    id_card = _read_upload(id_card_photo, "id_card_photo") if id_card_photo is not None else None
    check_not_locked(account)
    with transaction():
        challenge = _consume_challenge(account, challenge_id)
        take_attempt(account)
        verification = FaceVerification(
            account_id=account.id,
            challenge_id=challenge.id,
            status=VerificationStatus.PENDING,
            method=ReferenceSource.ID_CARD if id_card is not None else ReferenceSource.AUTHORITY,
            mode=challenge.mode,
            frame_count=len(frame_data),
            threshold=setting("FACE_MATCH_THRESHOLD"),
            day=city_today(),
        )
        db.session.add(verification)
        db.session.flush()
        store.put_images(verification.id, frame_data, id_card)
    queue_verification(verification.id)
    if wait > 0:
        _wait_until_decided(verification.id, min(wait, setting("FACE_MAX_WAIT_SECONDS")))
    return _verification_view(verification.id)


# --- Reading a verification ------------------------------------------------------------------------


def get_verification(account: Account, verification_id: str, wait: float = 0) -> tuple[dict, int]:
    verification = db.session.get(FaceVerification, verification_id)
    if verification is None or verification.account_id != account.id:
        raise Problem(404, "face_verification_not_found", "认证记录不存在")
    if verification.status == VerificationStatus.PENDING and wait > 0:
        _wait_until_decided(verification.id, min(wait, setting("FACE_MAX_WAIT_SECONDS")))
    return _verification_view(verification.id)


def _end_read_snapshot() -> None:
    # Nothing is written in this request any more: ending its read transaction lets the next query
    # see what the worker committed meanwhile (SQLite keeps a reader's snapshot until it ends).
    db.session.rollback()


def _wait_until_decided(verification_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        _end_read_snapshot()
        status = db.session.scalar(select(FaceVerification.status).where(FaceVerification.id == verification_id))
        if status != VerificationStatus.PENDING:
            return
        if not wait_for_decided_signal(verification_id, min(remaining, 1.0)):
            time.sleep(min(remaining, _POLL_SECONDS))


def _verification_view(verification_id: str) -> tuple[dict, int]:
    _end_read_snapshot()
    verification = db.session.get(FaceVerification, verification_id)
    account = db.session.get(Account, verification.account_id)
    body = {
        "verification_id": verification.id,
        "status": verification.status,
        "reason": verification.reason,
        "reason_title": reason_title(verification.reason) if verification.reason else None,
        "method": verification.method,
        "mode": verification.mode,
        "created_at": verification.created_at,
        "finished_at": verification.finished_at,
        "level": account.level,
    }
    return body, (202 if verification.status == VerificationStatus.PENDING else 200)
