"""Delivery receipts: a provider's report of what became of a message it accepted.

Two shapes arrive: the generic gateway protocol's signed single receipt (``record_receipt``), and the
Alibaba Cloud / Tencent Cloud batch pushes (``record_vendor_receipts``, JSON arrays in each provider's
documented format). Both go through the same final-status rule: a receipt moves a ``sent`` message to
``delivered`` or a failure, and late or repeated receipts never move a final status back.
"""

from __future__ import annotations

import hmac
import logging

from sqlalchemy import and_, or_, select

from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.metrics import count_receipt
from mobile_api.settings import setting
from mobile_api.transactions import transaction
from notifications.channels import ReceiptReport, configured_vendors, provider_names
from notifications.models import FAILED_STATUSES, Notification, NotificationStatus
from notifications.sms_vendors import CALLBACK_TOKENS, TEMPORARY_RECEIPT_CODES, receipt_reports
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
# Not yet recorded as sent: the receipt raced the sender's own record; the provider should push it again.
NOT_YET_SENT = (NotificationStatus.CREATED, NotificationStatus.QUEUED, NotificationStatus.SENDING)


def webhook_secret() -> str:
    return setting("SMS_WEBHOOK_SECRET")


def _apply(notification_id: str, provider: str, target: NotificationStatus, detail: str) -> dict:
    values = {"last_error": detail} if target in FAILED_STATUSES else {}
    with transaction():
        moved = transition(notification_id, target, detail, where=Notification.status == NotificationStatus.SENT, **values)
        current = load(notification_id)
        outcome = {"id": current.id, "status": current.status, "applied": moved}
    if moved:
        count_receipt("sms", provider, target)
    else:
        log.info("ignored receipt for notification %s already %s", notification_id, outcome["status"])
    return outcome


def record_receipt(provider: str, message_id: str, receipt_status: str, error_code: str | None = None) -> dict:
    """Apply a generic gateway's delivery receipt. Late or repeated receipts never move a final status back."""
    if provider not in provider_names() or provider in configured_vendors():
        raise Problem(404, "unknown_provider", "未知的短信服务商")
    notification = db.session.scalar(select(Notification).where(Notification.provider == provider, Notification.provider_ref == message_id))
    if notification is None:
        raise Problem(404, "notification_not_found", "找不到对应的消息")
    detail = f"receipt from {provider}: {receipt_status}" + (f" ({error_code})" if error_code else "")
    return _apply(notification.id, provider, RECEIPT_STATUSES[receipt_status], detail)


# --- Alibaba Cloud and Tencent Cloud pushes -------------------------------------------------------


def check_callback_token(provider: str, token: str | None) -> None:
    """The secret token in the callback URL configured in the provider's console (neither provider signs
    its pushes). Compared in constant time; an unconfigured provider has no callback at all."""
    expected = setting(CALLBACK_TOKENS[provider]) if provider in configured_vendors() else ""
    if not expected:
        raise Problem(404, "unknown_provider", "未知的短信服务商")
    if not token or not hmac.compare_digest(expected.encode(), token.encode()):
        raise Problem(401, "callback_token_invalid", "回执地址的令牌不正确")


def record_vendor_receipts(provider: str, items: list[dict]) -> dict:
    """Apply a batch push. Returns counts; ``retry`` > 0 asks the provider to push the batch again (a
    report arrived before its message was recorded as sent, or names no message we know yet)."""
    counts = {"applied": 0, "ignored": 0, "retry": 0}
    for report in receipt_reports(provider, items):
        notification = _match(provider, report)
        if notification is None or notification.status in NOT_YET_SENT:
            counts["retry"] += 1
            continue
        outcome = _apply(notification.id, provider, _target(provider, report), _detail(provider, report))
        counts["applied" if outcome["applied"] else "ignored"] += 1
    return counts


def _match(provider: str, report: ReceiptReport) -> Notification | None:
    conditions = []
    if report.reference:
        conditions.append(Notification.id == report.reference)
    if report.provider_ref:
        conditions.append(and_(Notification.provider == provider, Notification.provider_ref == report.provider_ref))
    if not conditions:
        return None
    return db.session.scalar(select(Notification).where(or_(*conditions)).limit(1))


def _target(provider: str, report: ReceiptReport) -> NotificationStatus:
    if report.delivered:
        return NotificationStatus.DELIVERED
    if (report.code or "").upper() in TEMPORARY_RECEIPT_CODES[provider]:
        return NotificationStatus.TEMPORARY_FAILURE
    return NotificationStatus.PERMANENT_FAILURE


def _detail(provider: str, report: ReceiptReport) -> str:
    outcome = "delivered" if report.delivered else "failed"
    extra = " ".join(part for part in (report.code, report.detail) if part)
    return f"receipt from {provider}: {outcome}" + (f" ({extra})" if extra else "")
