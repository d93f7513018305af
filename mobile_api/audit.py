"""The audit trail: one function every package calls when staff read or change citizen data."""

from __future__ import annotations

from flask import g, has_request_context

from mobile_api.extensions import db
from mobile_api.models import AuditEvent


def record_audit(
    actor: str, action: str, subject_type: str, subject_id: str | int, *, reason: str | None = None, details: dict | None = None
) -> None:
    """Add an audit row to the current transaction (the caller commits with its own change/read)."""
    request_id = getattr(g, "request_id", None) if has_request_context() else None
    db.session.add(
        AuditEvent(
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            reason=reason,
            request_id=request_id,
            details=details,
        )
    )
