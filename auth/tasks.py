"""Celery tasks of the ``auth`` package (face verification has its own in ``auth/face/tasks.py``): thin, idempotent."""

from __future__ import annotations

from auth import data_rights, revocation
from mobile_api.celery_app import celery

SYNC_REVOCATIONS_TASK = "auth.sync_revocations"


@celery.task(name=data_rights.BUILD_TASK)
def build_data_export(export_id: str) -> str:
    return str(data_rights.build_export(export_id))


@celery.task(name=data_rights.PURGE_TASK)
def purge_data_exports() -> int:
    return data_rights.purge_expired_exports()


@celery.task(name=SYNC_REVOCATIONS_TASK)
def sync_revocations() -> int:
    """Keep Redis's copy of the revocation list complete (reload after a restart, re-copy recent rows)."""
    return revocation.sync()
