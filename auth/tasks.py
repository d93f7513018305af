"""Celery tasks of the ``auth`` package (face verification has its own in ``auth/face/tasks.py``)."""

from __future__ import annotations

from auth import revocation
from mobile_api.celery_app import celery

SYNC_REVOCATIONS_TASK = "auth.sync_revocations"


@celery.task(name=SYNC_REVOCATIONS_TASK)
def sync_revocations() -> int:
    """Keep Redis's copy of the revocation list complete (reload after a restart, re-copy recent rows)."""
    return revocation.sync()
