"""Beat jobs: reminders, waitlist offer expiry, end-of-day no-shows, the display's old events. Thin and idempotent."""

from __future__ import annotations

from appointments import service
from mobile_api.celery_app import celery


@celery.task(name="appointments.send_reminders")
def send_reminders() -> int:
    return service.send_reminders()


@celery.task(name="appointments.expire_offers")
def expire_offers() -> int:
    return service.expire_offers()


@celery.task(name="appointments.mark_no_shows")
def mark_no_shows() -> int:
    return service.mark_no_shows()


@celery.task(name="appointments.purge_queue_events")
def purge_queue_events() -> int:
    return service.purge_events()
