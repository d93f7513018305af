"""The face worker's side: decide one verification, and purge what went stale.

:func:`run_verification` reads the uploaded images from the transient store, decodes them, checks
liveness (auth/face/liveness.py), finds the reference face, checks quality, matches, and records the
decision. Every attempt leaves a ``face_verifications`` row; images never do: they are dropped when
the worker is done, whatever the outcome. Bad input never raises: it becomes a reason code.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import select

from auth.face import images, liveness, store
from auth.face.attempts import record_decision
from auth.face.dispatch import queue_verification, signal_decided
from auth.face.liveness import Refused
from auth.face.messages import FACE_VERIFIED
from auth.face.models import (
    ChallengeMode,
    FaceChallenge,
    FaceReference,
    FaceVerification,
    ReferenceSource,
    VerificationStatus,
)
from auth.face.reference import ReferenceUnavailable, get_reference_photos
from auth.models import Account
from mobile_api.extensions import db
from mobile_api.metrics import observe_face_verification
from mobile_api.settings import setting
from mobile_api.timeutil import city_now, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify

log = logging.getLogger(__name__)

PASSED, FAILED = VerificationStatus.PASSED, VerificationStatus.FAILED
# Reference-photo quality problems that mean "this is not a usable ID-card portrait".
_CARD_FACE_REASONS = frozenset({"no_face", "face_too_small", "too_dark", "too_blurry"})


@dataclass
class Decision:
    status: VerificationStatus
    reason: str | None = None
    distance: float | None = None
    reference: tuple[np.ndarray, str] | None = None  # encoding and source, on success


@dataclass
class Reference:
    encoding: np.ndarray
    phash: int | None


def run_verification(verification_id: str) -> str | None:
    """Decide one verification. Idempotent: a finished one is left alone. Never raises for bad input."""
    verification = db.session.get(FaceVerification, verification_id)
    if verification is None or verification.status != VerificationStatus.PENDING:
        return None if verification is None else verification.status
    with transaction():
        verification.attempts += 1  # counted before deciding: a frame that kills the worker shows here
    frame_count = verification.frame_count
    try:
        decision = _decide_safely(verification)
        db.session.expire_all()  # see a withdrawal committed while we were deciding
        verification = db.session.get(FaceVerification, verification_id)
        if verification.status == VerificationStatus.PENDING:  # withdrawn meanwhile → leave the withdrawal's decision
            _finish(verification, decision)
            observe_face_verification((utcnow() - verification.created_at).total_seconds(), decision.status)
        return verification.status
    finally:
        store.drop_images(verification_id, frame_count)
        signal_decided(verification_id)


def _decide_safely(verification: FaceVerification) -> Decision:
    try:
        if verification.attempts > setting("FACE_MAX_DELIVERIES"):
            return Decision(FAILED, "image_unprocessable")
        return _decide(verification)
    except ReferenceUnavailable:
        return Decision(FAILED, "reference_unavailable")
    except Exception:
        log.exception("face verification %s crashed", verification.id)
        # Whatever failed may have left the session's transaction aborted (PostgreSQL refuses every
        # further statement): end it before recording the decision. Nothing of ours is pending in it.
        db.session.rollback()
        return Decision(FAILED, "internal_error")


def _limits(min_face_px: int | None = None) -> images.QualityLimits:
    return images.QualityLimits(
        min_face_px=min_face_px or setting("FACE_MIN_FACE_PX"),
        min_brightness=setting("FACE_MIN_BRIGHTNESS"),
        min_sharpness=setting("FACE_MIN_SHARPNESS"),
    )


def _decide(verification: FaceVerification) -> Decision:
    stored_images = store.get_images(verification.id, verification.frame_count)
    if stored_images is None:
        return Decision(FAILED, "images_expired")
    frame_bytes, id_card = stored_images
    account = db.session.get(Account, verification.account_id)
    challenge = db.session.get(FaceChallenge, verification.challenge_id)
    try:
        frames = _decode_frames(frame_bytes)
        liveness.check_replay(verification.id, frames)
        reference, source = _reference(account, id_card)
        liveness.check_not_reference_photo(frames, reference.phash)
        liveness.check_freshness(frames, challenge.created_at)
        analyses = [_analyse(frame, need_yaw=challenge.mode == ChallengeMode.ACTION) for frame in frames]
    except Refused as refused:
        return Decision(FAILED, refused.reason)
    threshold = verification.threshold
    for a, b in itertools.combinations(analyses, 2):
        if images.face_distance(a.encoding, b.encoding) > threshold:
            return Decision(FAILED, "frames_not_same_person")
    distance = max(images.face_distance(a.encoding, reference.encoding) for a in analyses)
    if distance > threshold:
        return Decision(FAILED, "face_mismatch", distance)
    if challenge.mode == ChallengeMode.ACTION and not liveness.action_performed(challenge.actions, [a.yaw or 0.0 for a in analyses]):
        return Decision(FAILED, "action_not_performed", distance)
    return Decision(PASSED, None, distance, (reference.encoding, source))


def _decode_frames(frame_bytes: list[bytes]) -> list[images.DecodedFrame]:
    liveness.check_not_byte_identical(frame_bytes)
    try:
        frames = [images.decode(data, max_pixels=setting("FACE_MAX_PIXELS")) for data in frame_bytes]
    except images.FaceImageError as exc:
        raise Refused(exc.reason) from None
    liveness.check_not_perceptually_identical(frames)
    return frames


def _reference(account: Account, id_card: bytes | None) -> tuple[Reference, str]:
    """The face to match: the ID-card portrait if one was sent, else the authority's photo, else the
    encoding stored by an earlier successful verification."""
    if id_card is not None:
        try:
            card = images.decode(id_card, max_pixels=setting("FACE_MAX_PIXELS"), side=1200)
            analysis = images.analyse_face(card, _limits(setting("FACE_MIN_CARD_FACE_PX")), need_yaw=False, largest_only=True)
        except images.FaceImageError as exc:
            raise Refused("id_card_no_face" if exc.reason in _CARD_FACE_REASONS else "id_card_unreadable") from None
        return Reference(analysis.encoding, card.phash), ReferenceSource.ID_CARD
    photo = get_reference_photos().get_photo(account.id_number) if account.id_number else None
    if photo is None:
        stored = db.session.get(FaceReference, account.id)
        if stored is None:
            raise Refused("no_reference_photo")
        return Reference(np.array(json.loads(stored.encoding)), None), stored.source
    try:
        decoded = images.decode(photo, max_pixels=setting("FACE_MAX_PIXELS"))
        analysis = images.analyse_face(decoded, _limits(setting("FACE_MIN_CARD_FACE_PX")), need_yaw=False, largest_only=True)
    except images.FaceImageError:
        raise Refused("reference_unusable") from None
    return Reference(analysis.encoding, decoded.phash), ReferenceSource.AUTHORITY


def _analyse(frame: images.DecodedFrame, need_yaw: bool) -> images.FaceAnalysis:
    try:
        return images.analyse_face(frame, _limits(), need_yaw=need_yaw)
    except images.FaceImageError as exc:
        raise Refused(exc.reason) from None


def _finish(verification: FaceVerification, decision: Decision) -> None:
    """Record the decision; a pass raises the account to level 3, keeps the reference encoding, says so."""
    with transaction():
        record_decision(verification, decision.status, decision.reason, decision.distance)
        if decision.status != PASSED or decision.reference is None:
            return
        account = db.session.get(Account, verification.account_id)
        account.level = max(account.level, 3)
        encoding, source = decision.reference
        stored = db.session.get(FaceReference, account.id)
        if stored is None:
            stored = FaceReference(account_id=account.id)
            db.session.add(stored)
        stored.encoding, stored.source, stored.created_at = json.dumps([round(float(x), 6) for x in encoding]), source, utcnow()
        notify(account, FACE_VERIFIED.code, {"time": f"{city_now():%Y-%m-%d %H:%M}"}, dedupe_key=f"face-verified:{verification.id}")


def purge_stale() -> dict:
    """Beat job: drop expired blobs (DB fallback) and fail verifications whose images are gone."""
    dropped = store.purge_expired()
    cutoff = utcnow() - timedelta(seconds=setting("FACE_BLOB_TTL_SECONDS") + 60)
    with transaction():
        stale = db.session.scalars(
            select(FaceVerification).where(FaceVerification.status == VerificationStatus.PENDING, FaceVerification.created_at < cutoff)
        ).all()
        for verification in stale:
            record_decision(verification, FAILED, "images_expired", None)
    # Never picked up (broker was down when submitted): queue again. The task is idempotent.
    unqueued = db.session.scalars(
        select(FaceVerification.id).where(
            FaceVerification.status == VerificationStatus.PENDING,
            FaceVerification.attempts == 0,
            FaceVerification.created_at < utcnow() - timedelta(seconds=30),
        )
    ).all()
    for verification_id in unqueued:
        queue_verification(verification_id)
    return {"blobs_dropped": dropped, "verifications_expired": len(stale), "requeued": len(unqueued)}
