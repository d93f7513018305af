"""Celery tasks of the auth package (face verification's are in ``auth/face/tasks.py``): thin, idempotent."""

from __future__ import annotations

from auth import data_rights
from mobile_api.celery_app import celery


@celery.task(name=data_rights.BUILD_TASK)
def build_data_export(export_id: str) -> str:
    return str(data_rights.build_export(export_id))


@celery.task(name=data_rights.PURGE_TASK)
def purge_data_exports() -> int:
    return data_rights.purge_expired_exports()
