"""Delivery receipts: an SMS gateway's signed report of what became of a message it accepted."""

from __future__ import annotations

import logging

from sqlalchemy import select

from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.transactions import transaction
from notifications.channels import configured_gateways
from notifications.models import FAILED_STATUSES, Notification, NotificationStatus
from notifications.transitions import load, transition

log = logging.getLogger(__name__)

# The gateway protocol's receipt statuses (notifications/channels.py), and what each means here.
RECEIPT_STATUSES = {
    "delivered": NotificationStatus.DELIVERED,
    "failed": NotificationStatus.PERMANENT_FAILURE,
    "rejected": NotificationStatus.PERMANENT_FAILURE,
    "undeliverable": NotificationStatus.PERMANENT_FAILURE,
    "expired": NotificationStatus.TEMPORARY_FAILURE,
    "temporary_failure": NotificationStatus.TEMPORARY_FAILURE,
}


def webhook_secret() -> str:
    return setting("SMS_WEBHOOK_SECRET")


def record_receipt(provider: str, message_id: str, receipt_status: str, error_code: str | None = None) -> dict:
    """Apply a gateway's delivery receipt. Late or repeated receipts never move a final status back."""
    if provider not in {name for name, _, _ in configured_gateways()}:
        raise Problem(404, "unknown_provider", "未知的短信服务商")
    notification = db.session.scalar(select(Notification).where(Notification.provider == provider, Notification.provider_ref == message_id))
    if notification is None:
        raise Problem(404, "notification_not_found", "找不到对应的消息")
    target = RECEIPT_STATUSES[receipt_status]
    detail = f"receipt from {provider}: {receipt_status}" + (f" ({error_code})" if error_code else "")
    values = {"last_error": detail} if target in FAILED_STATUSES else {}
    with transaction():
        moved = transition(notification.id, target, detail, where=Notification.status == NotificationStatus.SENT, **values)
        current = load(notification.id)
        outcome = {"id": current.id, "status": current.status, "applied": moved}
    if not moved:
        log.info("ignored receipt %s for notification %s already %s", receipt_status, notification.id, outcome["status"])
    return outcome
