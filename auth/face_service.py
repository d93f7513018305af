"""Face verification (real-name level 3): consent, challenges, submissions, the worker's decision.

Web side (``grant_consent`` … ``get_verification``) never decodes pixels: it checks headers, stores
the images in the transient store (auth/face_store.py) and queues ``face.verify``. Worker side
(``run_verification``) decodes, checks quality, replay and liveness, matches against the reference
and records the decision. Every attempt leaves a ``face_verifications`` row; images never do.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import delete, or_, select, update

from auth import face, face_store
from auth.face_messages import FACE_VERIFIED, REASON_TITLES
from auth.face_reference import ReferenceUnavailable, get_reference_photos
from auth.models import (
    Account,
    FaceAttemptDay,
    FaceChallenge,
    FaceConsent,
    FaceFrameHash,
    FaceReference,
    FaceVerification,
    ReferencePhoto,
)
from auth.service import check_id_number
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import blind_index, mask_id_number
from mobile_api.redis_client import get_redis
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, city_now, city_today, utcnow
from notifications.service import notify

log = logging.getLogger(__name__)

PASSIVE, ACTION = "passive", "action"
TURN_LEFT, TURN_RIGHT = "turn_left", "turn_right"
PENDING, PASSED, FAILED = "pending", "passed", "failed"
# Failures that are not the citizen's doing do not count towards the daily limit.
UNCOUNTED_REASONS = frozenset(
    {"no_reference_photo", "reference_unusable", "reference_unavailable", "images_expired", "internal_error", "consent_withdrawn"}
)
DONE_KEY = "face:done:{}"

DEFAULTS = {
    "FACE_CONSENT_VERSION": "2026-11",
    # 1:1 identity threshold (face_recognition's own 0.6 is for 1:N clustering). Fixtures: same person
    # 0.03–0.42, different people 0.70–0.90 (bench/face_accuracy.py). 0.5 keeps a 0.08 margin above
    # the worst genuine pair and 0.2 below the closest impostor; 0.6 would halve the impostor margin.
    "FACE_MATCH_THRESHOLD": 0.5,
    "FACE_CHALLENGE_SECONDS": 180,
    "FACE_BLOB_TTL_SECONDS": 300,
    "FACE_MAX_IMAGE_BYTES": 8 * 1024 * 1024,
    "FACE_MAX_PIXELS": 40_000_000,
    "FACE_MAX_FRAMES": 5,
    "FACE_DAILY_FAILURES": 5,
    "FACE_MIN_FACE_PX": 80,
    "FACE_MIN_CARD_FACE_PX": 40,
    "FACE_MIN_BRIGHTNESS": 50.0,
    "FACE_MIN_SHARPNESS": 12.0,
    "FACE_MIN_YAW_CHANGE": 0.2,
    "FACE_REPLAY_MAX_BITS": 4,  # pHash bits apart that still count as the same picture
    "FACE_CLOCK_SKEW_SECONDS": 120,
    "FACE_MAX_DELIVERIES": 2,  # a frame that kills the worker twice is refused, not retried forever
    "FACE_MAX_WAIT_SECONDS": 5,
}


def configure(config: dict) -> None:
    """Defaults for FACE_* settings; environment variables of the same name override them."""
    import os

    for name, default in DEFAULTS.items():
        raw = os.environ.get(name)
        value = type(default)(raw) if raw not in (None, "") else default
        config.setdefault(name, value)


def _cfg(name: str):
    return current_app.config[name]


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
    current = _cfg("FACE_CONSENT_VERSION")
    return {
        "current_version": current,
        "consented": consent is not None and consent.consent_version == current,
        "consent_version": consent.consent_version if consent else None,
        "granted_at": consent.granted_at if consent else None,
    }


def grant_consent(account: Account, consent_version: str) -> dict:
    current = _cfg("FACE_CONSENT_VERSION")
    if consent_version != current:
        raise Problem(422, "face_consent_version_outdated", "授权书已更新，请阅读最新版本后再同意", current_version=current)
    consent = _active_consent(account)
    if consent is None or consent.consent_version != current:
        db.session.add(FaceConsent(account_id=account.id, consent_version=current))
        db.session.commit()
    return consent_status(account)


def withdraw_consent(account: Account) -> None:
    """Withdraw: the stored face encoding is deleted, pending attempts stop, their images are dropped."""
    now = utcnow()
    db.session.execute(
        update(FaceConsent).where(FaceConsent.account_id == account.id, FaceConsent.withdrawn_at.is_(None)).values(withdrawn_at=now)
    )
    db.session.execute(delete(FaceReference).where(FaceReference.account_id == account.id))
    pending = db.session.scalars(
        select(FaceVerification).where(FaceVerification.account_id == account.id, FaceVerification.status == PENDING)
    ).all()
    for verification in pending:
        _record_decision(verification, FAILED, "consent_withdrawn", None)
    db.session.commit()
    for verification in pending:
        face_store.drop_images(verification.id, verification.frame_count)


def _require_consent(account: Account) -> None:
    consent = _active_consent(account)
    current = _cfg("FACE_CONSENT_VERSION")
    if consent is None or consent.consent_version != current:
        raise Problem(
            403,
            "face_consent_required",
            "使用人脸识别前，请先阅读并同意《人脸信息处理授权书》",
            consent_version=current,
        )


# --- Daily limit ----------------------------------------------------------------------------------


def _next_city_midnight() -> datetime:
    now = city_now()
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=CITY_TZ)


def _locked_problem() -> Problem:
    until = _next_city_midnight()
    retry_after = max(1, int((until - city_now()).total_seconds()))
    limit = _cfg("FACE_DAILY_FAILURES")
    return Problem(
        429,
        "face_verification_locked",
        f"今天人脸识别已失败{limit}次，请于明天（{until:%m月%d日} 00:00）后再试",
        locked_until=until.isoformat(),
        headers={"Retry-After": str(retry_after)},
    )


def _check_not_locked(account: Account) -> None:
    row = db.session.get(FaceAttemptDay, (account.id, city_today()))
    if row is not None and row.used >= _cfg("FACE_DAILY_FAILURES"):
        raise _locked_problem()


def _take_attempt(account: Account) -> None:
    """Count a pending attempt against today's limit, atomically (one conditional UPDATE)."""
    today = city_today()
    insert_ignoring_conflict(FaceAttemptDay, account_id=account.id, day=today, used=0)
    taken = db.session.execute(
        update(FaceAttemptDay)
        .where(FaceAttemptDay.account_id == account.id, FaceAttemptDay.day == today, FaceAttemptDay.used < _cfg("FACE_DAILY_FAILURES"))
        .values(used=FaceAttemptDay.used + 1)
    ).rowcount
    if not taken:
        db.session.rollback()
        raise _locked_problem()


def _give_back_attempt(verification: FaceVerification) -> None:
    db.session.execute(
        update(FaceAttemptDay)
        .where(FaceAttemptDay.account_id == verification.account_id, FaceAttemptDay.day == verification.day, FaceAttemptDay.used > 0)
        .values(used=FaceAttemptDay.used - 1)
    )


# --- Challenges -----------------------------------------------------------------------------------


def create_challenge(account: Account, mode: str) -> dict:
    _require_consent(account)
    _check_not_locked(account)
    actions = [secrets.choice([TURN_LEFT, TURN_RIGHT])] if mode == ACTION else []
    challenge = FaceChallenge(
        account_id=account.id, mode=mode, actions=actions, expires_at=utcnow() + timedelta(seconds=_cfg("FACE_CHALLENGE_SECONDS"))
    )
    db.session.add(challenge)
    db.session.commit()
    return {
        "challenge_id": challenge.id,
        "expires_at": challenge.expires_at,
        "mode": challenge.mode,
        "actions": challenge.actions,
        "min_frames": 2,
        "max_frames": _cfg("FACE_MAX_FRAMES"),
    }


def _consume_challenge(account: Account, challenge_id: str) -> FaceChallenge:
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


# --- Submission (web) ------------------------------------------------------------------------------


def _read_upload(upload, field: str) -> bytes:
    max_bytes = _cfg("FACE_MAX_IMAGE_BYTES")
    data = upload.stream.read(max_bytes + 1)
    try:
        face.inspect_upload(data, max_bytes=max_bytes, max_pixels=_cfg("FACE_MAX_PIXELS"))
    except face.FaceImageError as exc:
        raise Problem(
            exc.status,
            exc.reason,
            REASON_TITLES.get(exc.reason, "图片无法识别"),
            errors={field: [REASON_TITLES.get(exc.reason, exc.reason)]},
        ) from None
    return data


def submit_verification(account: Account, challenge_id: str, frames: list, id_card_photo=None, wait: float = 0) -> tuple[dict, int]:
    """Check the uploads' headers, consume the challenge, count the attempt, queue ``face.verify``."""
    _require_consent(account)
    if len(frames) > _cfg("FACE_MAX_FRAMES"):
        raise Problem(422, "face_too_many_frames", f"最多上传{_cfg('FACE_MAX_FRAMES')}张照片", errors={"frames": ["照片太多"]})
    if len(frames) < 2:
        raise Problem(422, "face_frames_required", "请按提示连续拍摄至少2张照片", errors={"frames": ["至少需要2张照片"]})
    frame_data = [_read_upload(upload, "frames") for upload in frames]
    id_card = _read_upload(id_card_photo, "id_card_photo") if id_card_photo is not None else None
    _check_not_locked(account)
    challenge = _consume_challenge(account, challenge_id)
    _take_attempt(account)
    verification = FaceVerification(
        account_id=account.id,
        challenge_id=challenge.id,
        status=PENDING,
        method="id_card" if id_card is not None else "authority",
        mode=challenge.mode,
        frame_count=len(frame_data),
        threshold=_cfg("FACE_MATCH_THRESHOLD"),
        day=city_today(),
    )
    db.session.add(verification)
    db.session.flush()
    face_store.put_images(verification.id, frame_data, id_card)
    db.session.commit()
    _publish(verification.id)
    if wait > 0:
        _wait_until_done(verification.id, min(wait, _cfg("FACE_MAX_WAIT_SECONDS")))
    return _verification_view(verification.id)


def _publish(verification_id: str) -> None:
    """Queue the decision. If the broker is down the row stays pending and ``purge_stale`` re-queues it."""
    from auth.face_tasks import verify_face

    try:
        verify_face.delay(verification_id)
    except Exception:
        log.exception("could not queue face verification %s", verification_id)


def _wait_until_done(verification_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    redis = get_redis()
    while (remaining := deadline - time.monotonic()) > 0:
        db.session.rollback()  # end the read snapshot so the worker's commit is visible
        status = db.session.scalar(select(FaceVerification.status).where(FaceVerification.id == verification_id))
        if status != PENDING:
            return
        if redis is not None:
            redis.blpop([DONE_KEY.format(verification_id)], timeout=min(remaining, 1.0))
        else:
            time.sleep(min(remaining, 0.05))


def _verification_view(verification_id: str) -> tuple[dict, int]:
    db.session.rollback()
    verification = db.session.get(FaceVerification, verification_id)
    account = db.session.get(Account, verification.account_id)
    body = {
        "verification_id": verification.id,
        "status": verification.status,
        "reason": verification.reason,
        "reason_title": REASON_TITLES.get(verification.reason) if verification.reason else None,
        "method": verification.method,
        "mode": verification.mode,
        "created_at": verification.created_at,
        "finished_at": verification.finished_at,
        "level": account.level,
    }
    return body, (202 if verification.status == PENDING else 200)


def get_verification(account: Account, verification_id: str, wait: float = 0) -> tuple[dict, int]:
    verification = db.session.get(FaceVerification, verification_id)
    if verification is None or verification.account_id != account.id:
        raise Problem(404, "face_verification_not_found", "认证记录不存在")
    if verification.status == PENDING and wait > 0:
        _wait_until_done(verification.id, min(wait, _cfg("FACE_MAX_WAIT_SECONDS")))
    return _verification_view(verification.id)


# --- Reference photo register (local authority stand-in) -------------------------------------------


def import_reference_photo(id_number: str, data: bytes, source: str, actor: str) -> dict:
    """Put (or replace) the reference photo for an ID number in the local register, encrypted."""
    try:
        id_number = check_id_number(id_number)
    except ValidationError as exc:
        raise Problem(422, "validation_failed", "身份证号码不正确", errors={"id_number": exc.messages}) from None
    try:
        info = face.inspect_upload(data, max_bytes=_cfg("FACE_MAX_IMAGE_BYTES"), max_pixels=_cfg("FACE_MAX_PIXELS"))
    except face.FaceImageError as exc:
        raise Problem(exc.status, exc.reason, REASON_TITLES.get(exc.reason, "图片无法识别"), errors={"photo": [exc.reason]}) from None
    index = blind_index(id_number, "id_number")
    row = db.session.get(ReferencePhoto, index)
    if row is None:
        row = ReferencePhoto(id_number_index=index)
        db.session.add(row)
    row.photo = base64.b64encode(data).decode()
    row.content_type = face.ACCEPTED_FORMATS[info.format]
    row.source, row.imported_at = source, utcnow()
    record_audit(actor, "identity.reference_photo.import", "resident", index, details={"source": source})
    db.session.commit()
    return {
        "id_number_masked": mask_id_number(id_number),
        "content_type": row.content_type,
        "width": info.width,
        "height": info.height,
        "source": source,
    }


def import_uploaded_reference_photo(id_number: str, upload, actor: str) -> dict:
    return import_reference_photo(id_number, upload.stream.read(_cfg("FACE_MAX_IMAGE_BYTES") + 1), "admin", actor)


# --- The decision (face worker) -----------------------------------------------------------------------


@dataclass
class Decision:
    status: str
    reason: str | None = None
    distance: float | None = None
    reference: tuple[np.ndarray, str] | None = None  # encoding and source, on success


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run_verification(verification_id: str) -> str | None:
    """Decide one verification. Idempotent: a finished one is left alone. Never raises for bad input."""
    verification = db.session.get(FaceVerification, verification_id)
    if verification is None or verification.status != PENDING:
        return None if verification is None else verification.status
    verification.attempts += 1
    db.session.commit()
    try:
        if verification.attempts > _cfg("FACE_MAX_DELIVERIES"):
            decision = Decision(FAILED, "image_unprocessable")
        else:
            decision = _decide(verification)
    except ReferenceUnavailable:
        decision = Decision(FAILED, "reference_unavailable")
    except Exception:
        log.exception("face verification %s crashed", verification_id)
        db.session.rollback()
        decision = Decision(FAILED, "internal_error")
    try:
        db.session.expire_all()  # see a withdrawal committed while we were deciding
        verification = db.session.get(FaceVerification, verification_id)
        if verification.status == PENDING:  # withdrawn meanwhile → leave the withdrawal's decision
            _finish(verification, decision)
        return verification.status
    finally:
        face_store.drop_images(verification_id, verification.frame_count)
        redis = get_redis()
        if redis is not None:
            key = DONE_KEY.format(verification_id)
            redis.rpush(key, "1")
            redis.expire(key, 30)


def _limits(min_face_px: int | None = None) -> face.QualityLimits:
    return face.QualityLimits(
        min_face_px=min_face_px or _cfg("FACE_MIN_FACE_PX"),
        min_brightness=_cfg("FACE_MIN_BRIGHTNESS"),
        min_sharpness=_cfg("FACE_MIN_SHARPNESS"),
    )


def _decide(verification: FaceVerification) -> Decision:
    images = face_store.get_images(verification.id, verification.frame_count)
    if images is None:
        return Decision(FAILED, "images_expired")
    frame_bytes, id_card = images
    account = db.session.get(Account, verification.account_id)
    challenge = db.session.get(FaceChallenge, verification.challenge_id)
    try:
        frames = _decode_frames(frame_bytes)
        _check_replay(verification, frames)
        reference, source = _reference(account, id_card)
        if reference.phash is not None and any(face.hamming(f.phash, reference.phash) <= _cfg("FACE_REPLAY_MAX_BITS") for f in frames):
            raise Refused("frame_is_reference_photo")
        _check_freshness(frames, challenge)
        analyses = [_analyse(frame, need_yaw=challenge.mode == ACTION) for frame in frames]
    except Refused as refused:
        return Decision(FAILED, refused.reason)
    threshold = verification.threshold
    for a, b in itertools.combinations(analyses, 2):
        if face.face_distance(a.encoding, b.encoding) > threshold:
            return Decision(FAILED, "frames_not_same_person")
    distance = max(face.face_distance(a.encoding, reference.encoding) for a in analyses)
    if distance > threshold:
        return Decision(FAILED, "face_mismatch", distance)
    if challenge.mode == ACTION and not _action_performed(challenge.actions, [a.yaw or 0.0 for a in analyses]):
        return Decision(FAILED, "action_not_performed", distance)
    return Decision(PASSED, None, distance, (reference.encoding, source))


def _decode_frames(frame_bytes: list[bytes]) -> list[face.DecodedFrame]:
    if len({hashlib.sha256(data).digest() for data in frame_bytes}) < len(frame_bytes):
        raise Refused("frames_identical")
    try:
        frames = [face.decode(data, max_pixels=_cfg("FACE_MAX_PIXELS")) for data in frame_bytes]
    except face.FaceImageError as exc:
        raise Refused(exc.reason) from None
    for a, b in itertools.combinations(frames, 2):
        if face.hamming(a.phash, b.phash) <= _cfg("FACE_REPLAY_MAX_BITS"):
            raise Refused("frames_identical")
    return frames


def _check_freshness(frames: list[face.DecodedFrame], challenge: FaceChallenge) -> None:
    """Frames whose camera clock says they were taken before the challenge are old pictures.

    Only possible when the camera wrote EXIF DateTimeOriginal; many apps strip it (then: unknown).
    """
    earliest = challenge.created_at - timedelta(seconds=_cfg("FACE_CLOCK_SKEW_SECONDS"))
    for frame in frames:
        taken_at = face.parse_exif_time(frame.taken_at_text, CITY_TZ) if frame.taken_at_text else None
        if taken_at is not None and taken_at < earliest:
            raise Refused("frame_not_fresh")


def _check_replay(verification: FaceVerification, frames: list[face.DecodedFrame]) -> None:
    """Record these frames' pHashes, then look for near-copies recorded by any earlier verification.

    Recording first (committed) and comparing against lower row ids makes two concurrent replays of
    one picture safe: whichever committed later sees the other.
    """
    rows = []
    for frame in frames:
        bands = face.hash_bands(frame.phash)
        rows.append(
            FaceFrameHash(verification_id=verification.id, phash=f"{frame.phash:016x}", **{f"band{i}": b for i, b in enumerate(bands)})
        )
    db.session.add_all(rows)
    db.session.commit()
    first_own_id = min(row.id for row in rows)
    max_bits = _cfg("FACE_REPLAY_MAX_BITS")
    for frame in frames:
        bands = face.hash_bands(frame.phash)
        candidates = db.session.scalars(
            select(FaceFrameHash.phash).where(
                FaceFrameHash.id < first_own_id,
                or_(*[getattr(FaceFrameHash, f"band{i}") == b for i, b in enumerate(bands)]),
            )
        ).all()
        if any(face.hamming(frame.phash, int(other, 16)) <= max_bits for other in candidates):
            raise Refused("replayed_frame")


@dataclass
class Reference:
    encoding: np.ndarray
    phash: int | None


def _reference(account: Account, id_card: bytes | None) -> tuple[Reference, str]:
    """The face to match: the ID-card portrait if one was sent, else the authority's photo, else the
    encoding stored by an earlier successful verification."""
    if id_card is not None:
        try:
            card = face.decode(id_card, max_pixels=_cfg("FACE_MAX_PIXELS"), side=1200)
            analysis = face.analyse_face(card, _limits(_cfg("FACE_MIN_CARD_FACE_PX")), need_yaw=False, largest_only=True)
        except face.FaceImageError as exc:
            raise Refused(
                "id_card_no_face" if exc.reason in {"no_face", "face_too_small", "too_dark", "too_blurry"} else "id_card_unreadable"
            ) from None
        return Reference(analysis.encoding, card.phash), "id_card"
    photo = get_reference_photos().get_photo(account.id_number) if account.id_number else None
    if photo is None:
        stored = db.session.get(FaceReference, account.id)
        if stored is None:
            raise Refused("no_reference_photo")
        return Reference(np.array(json.loads(stored.encoding)), None), stored.source
    try:
        decoded = face.decode(photo, max_pixels=_cfg("FACE_MAX_PIXELS"))
        analysis = face.analyse_face(decoded, _limits(_cfg("FACE_MIN_CARD_FACE_PX")), need_yaw=False, largest_only=True)
    except face.FaceImageError:
        raise Refused("reference_unusable") from None
    return Reference(analysis.encoding, decoded.phash), "authority"


def _analyse(frame: face.DecodedFrame, need_yaw: bool) -> face.FaceAnalysis:
    try:
        return face.analyse_face(frame, _limits(), need_yaw=need_yaw)
    except face.FaceImageError as exc:
        raise Refused(exc.reason) from None


def _action_performed(actions: list[str], yaws: list[float]) -> bool:
    """``turn_left`` (the citizen's own left): yaw must rise from the first frame by the minimum change."""
    minimum = _cfg("FACE_MIN_YAW_CHANGE")
    start = yaws[0]
    if TURN_LEFT in actions:
        return max(yaws[1:]) - start >= minimum
    if TURN_RIGHT in actions:
        return start - min(yaws[1:]) >= minimum
    return True


def _record_decision(verification: FaceVerification, status: str, reason: str | None, distance: float | None) -> None:
    verification.status, verification.reason, verification.distance = status, reason, distance
    verification.finished_at = utcnow()
    if status == PASSED or reason in UNCOUNTED_REASONS:
        _give_back_attempt(verification)


def _finish(verification: FaceVerification, decision: Decision) -> None:
    _record_decision(verification, decision.status, decision.reason, decision.distance)
    if decision.status == PASSED and decision.reference is not None:
        account = db.session.get(Account, verification.account_id)
        account.level = max(account.level, 3)
        encoding, source = decision.reference
        stored = db.session.get(FaceReference, account.id)
        if stored is None:
            stored = FaceReference(account_id=account.id)
            db.session.add(stored)
        stored.encoding, stored.source, stored.created_at = json.dumps([round(float(x), 6) for x in encoding]), source, utcnow()
        notify(
            account,
            FACE_VERIFIED.code,
            {"time": f"{city_now():%Y-%m-%d %H:%M}"},
            dedupe_key=f"face-verified:{verification.id}",
        )
    db.session.commit()


def purge_stale() -> dict:
    """Beat job: drop expired blobs (DB fallback) and fail verifications whose images are gone."""
    dropped = face_store.purge_expired()
    cutoff = utcnow() - timedelta(seconds=_cfg("FACE_BLOB_TTL_SECONDS") + 60)
    stale = db.session.scalars(
        select(FaceVerification).where(FaceVerification.status == PENDING, FaceVerification.created_at < cutoff)
    ).all()
    for verification in stale:
        _record_decision(verification, FAILED, "images_expired", None)
    db.session.commit()
    # Never picked up (broker was down when submitted): queue again. The task is idempotent.
    unqueued = db.session.scalars(
        select(FaceVerification.id).where(
            FaceVerification.status == PENDING,
            FaceVerification.attempts == 0,
            FaceVerification.created_at < utcnow() - timedelta(seconds=30),
        )
    ).all()
    for verification_id in unqueued:
        _publish(verification_id)
    return {"blobs_dropped": dropped, "verifications_expired": len(stale), "requeued": len(unqueued)}
