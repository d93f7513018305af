"""Celery tasks of the cases package: thin, idempotent, named."""

from __future__ import annotations

from cases import supervision
from mobile_api.celery_app import celery


@celery.task(name="cases.scan_deadlines")
def scan_deadlines() -> dict:
    """Colour open cases and rectifications; warn once per colour change (safe to run concurrently)."""
    return supervision.scan_deadlines()
