"""Face data in a citizen's data export and account closure (registered as the ``face`` provider).

Exported: consents (version, granted, withdrawn), every verification attempt's decision record, and
whether a reference encoding is kept (with its source and date) — never images, pHashes or encodings.
Erased on closure: all of it. Face data is sensitive personal information (PIPL art. 28): nothing here
is a record the law requires kept.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from auth.face import store
from auth.face.models import FaceAttemptDay, FaceBlob, FaceChallenge, FaceConsent, FaceFrameHash, FaceReference, FaceVerification
from mobile_api.extensions import db
from mobile_api.personal_data import Subject


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_face(subject: Subject) -> dict:
    account_id = subject.account_id
    consents = db.session.scalars(select(FaceConsent).where(FaceConsent.account_id == account_id).order_by(FaceConsent.id)).all()
    attempts = db.session.scalars(
        select(FaceVerification).where(FaceVerification.account_id == account_id).order_by(FaceVerification.created_at)
    ).all()
    reference = db.session.get(FaceReference, account_id)
    return {
        "consents": [
            {"consent_version": c.consent_version, "granted_at": _iso(c.granted_at), "withdrawn_at": _iso(c.withdrawn_at)} for c in consents
        ],
        "verifications": [
            {
                "id": v.id,
                "status": v.status,
                "reason": v.reason,
                "method": v.method,
                "mode": v.mode,
                "frame_count": v.frame_count,
                "distance": v.distance,
                "threshold": v.threshold,
                "created_at": _iso(v.created_at),
                "finished_at": _iso(v.finished_at),
            }
            for v in attempts
        ],
        "reference_encoding_kept": (
            {"source": reference.source, "created_at": _iso(reference.created_at)} if reference is not None else None
        ),
    }


def erase_face(subject: Subject, context: dict) -> dict:
    """Delete every face row of the account (in the caller's transaction) and any images still waiting."""
    account_id = subject.account_id
    verifications = db.session.execute(
        select(FaceVerification.id, FaceVerification.frame_count).where(FaceVerification.account_id == account_id)
    ).all()
    ids = [row.id for row in verifications]
    for row in verifications:
        store.drop_images(row.id, row.frame_count)
    counts = {
        "frame_hashes": _delete(delete(FaceFrameHash).where(FaceFrameHash.verification_id.in_(ids))) if ids else 0,
        "waiting_images": _delete(delete(FaceBlob).where(FaceBlob.verification_id.in_(ids))) if ids else 0,
        "verifications": _delete(delete(FaceVerification).where(FaceVerification.account_id == account_id)),
        "challenges": _delete(delete(FaceChallenge).where(FaceChallenge.account_id == account_id)),
        "consents": _delete(delete(FaceConsent).where(FaceConsent.account_id == account_id)),
        "reference_encoding": _delete(delete(FaceReference).where(FaceReference.account_id == account_id)),
        "attempt_days": _delete(delete(FaceAttemptDay).where(FaceAttemptDay.account_id == account_id)),
    }
    return {"erased": counts, "kept": {}}


def _delete(statement) -> int:
    return db.session.execute(statement).rowcount or 0
