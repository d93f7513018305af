"""Face verification tasks, on the ``face`` queue (``face.*`` is routed there by ``auth.face.init_app``)."""

from __future__ import annotations

import logging

from celery.signals import celeryd_after_setup

from auth.face import verification
from auth.face.dispatch import PURGE_TASK, VERIFY_TASK
from mobile_api.celery_app import celery
from mobile_api.queues import QueueNames

log = logging.getLogger(__name__)


@celery.task(name=VERIFY_TASK)
def verify_face(verification_id: str) -> str | None:
    """Decide one verification; a no-op when it is already decided (redelivery, duplicates)."""
    return verification.run_verification(verification_id)


@celery.task(name=PURGE_TASK)
def purge_stale() -> dict:
    """Delete transient images past their TTL and fail verifications whose images are gone."""
    return verification.purge_stale()


@celeryd_after_setup.connect
def _preload_face_models(sender, instance, **kwargs) -> None:
    """A worker that consumes ``face`` loads dlib's models once in the parent, before the pool forks:
    children share them copy-on-write and the first verification is not 1–2 s slower than the rest.
    Workers on other queues never load them."""
    queues = {queue.name for queue in instance.app.amqp.queues.consume_from.values()}
    if QueueNames.FACE in queues:
        import face_recognition  # noqa: F401 - loading the module loads the models

        log.info("face models loaded before forking the pool")
