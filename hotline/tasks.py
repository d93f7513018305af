"""Celery tasks of the hotline: thin, idempotent, named."""

from __future__ import annotations

from hotline import escalation
from hotline.open311 import requests
from mobile_api.celery_app import celery


@celery.task(name="hotline.scan_deadlines")
def scan_deadlines() -> dict:
    """Colour tickets whose department clock runs; warn yellow, escalate red (督办) — once each."""
    return escalation.scan_deadlines()


@celery.task(name="hotline.intake_open311_submission")
def intake_open311_submission(submission_id: int) -> str:
    """Turn one Open311 batch submission into a ticket (a second run finds it done and skips)."""
    return requests.intake_submission(submission_id)


@celery.task(name="hotline.sweep_open311_submissions")
def sweep_open311_submissions() -> int:
    """Re-publish batch submissions the broker never delivered."""
    return requests.sweep_submissions()
