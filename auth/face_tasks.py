"""Face verification tasks, on the ``face`` queue (``face.*`` is routed there)."""

from __future__ import annotations

from auth import face_service
from mobile_api.celery_app import celery


@celery.task(name="face.verify")
def verify_face(verification_id: str) -> str | None:
    """Decide one verification; a no-op when it is already decided (redelivery, duplicates)."""
    return face_service.run_verification(verification_id)


@celery.task(name="face.purge_stale")
def purge_stale() -> dict:
    """Delete transient images past their TTL and fail verifications whose images are gone."""
    return face_service.purge_stale()
