"""Face verification tasks, on the ``face`` queue (``face.*`` is routed there)."""

from __future__ import annotations

import logging

from celery.signals import celeryd_after_setup

from auth import face_service
from mobile_api.celery_app import celery

log = logging.getLogger(__name__)


@celery.task(name="face.verify")
def verify_face(verification_id: str) -> str | None:
    """Decide one verification; a no-op when it is already decided (redelivery, duplicates)."""
    return face_service.run_verification(verification_id)


@celery.task(name="face.purge_stale")
def purge_stale() -> dict:
    """Delete transient images past their TTL and fail verifications whose images are gone."""
    return face_service.purge_stale()


@celeryd_after_setup.connect
def _preload_face_models(sender, instance, **kwargs) -> None:
    """A worker that consumes ``face`` loads dlib's models once in the parent, before the pool forks:
    children share them copy-on-write and the first verification is not 1–2 s slower than the rest.
    Workers on other queues never load them."""
    queues = {queue.name for queue in instance.app.amqp.queues.consume_from.values()}
    if "face" in queues:
        import face_recognition  # noqa: F401 - loading the module loads the models

        log.info("face models loaded before forking the pool")
