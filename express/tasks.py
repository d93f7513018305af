"""Celery tasks of express: thin, idempotent, explicitly named, on the ``express`` queue.

Every task may run twice for the same arguments (a redelivered message, a sweep republishing what it
thinks was lost): booking uses our delivery id as the courier's order reference and stores the waybill
with a conditional UPDATE; a refund uses our out_refund_no; a subscription is idempotent at Kuaidi100.
Temporary failures retry with exponential backoff decided by the service (``RetryLater``).
"""

from __future__ import annotations

from express import service
from express.payments import PaymentError
from express.tracking import TrackingError
from mobile_api.celery_app import celery


@celery.task(name="express.book_waybill", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def book_waybill(self, delivery_id: str) -> str:
    try:
        return service.book_waybill(delivery_id)
    except service.RetryLater as later:
        raise self.retry(countdown=later.countdown) from later


@celery.task(name="express.subscribe_tracking", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=8)
def subscribe_tracking(self, delivery_id: str) -> str:
    try:
        return service.subscribe_tracking(delivery_id)
    except service.RetryLater as later:
        raise self.retry(countdown=later.countdown) from later


@celery.task(name="express.refund_payment", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=10)
def refund_payment(self, payment_id: str) -> str:
    try:
        return service.process_refund(payment_id)
    except PaymentError as error:  # temporary: process_refund re-raises only those
        raise self.retry(countdown=min(30 * 2**self.request.retries, 3600)) from error


@celery.task(name="express.close_payment", bind=True, acks_late=True, max_retries=5)
def close_payment(self, payment_id: str) -> str:
    try:
        return service.close_at_provider(payment_id)
    except PaymentError as error:
        if not error.temporary:
            return "refused"
        raise self.retry(countdown=60) from error


@celery.task(name="express.sweep")
def sweep() -> dict:
    return service.sweep()


@celery.task(name="express.poll_stale")
def poll_stale() -> int:
    try:
        return service.poll_stale()
    except TrackingError:
        return 0


@celery.task(name="express.advance_local")
def advance_local() -> int:
    return service.advance_local()
