"""The outbox as Prometheus sees it, computed from the database at every scrape (any process may scrape).

- ``notifications_outbox_pending{status}``: rows not yet final (created, queued, sending, sent);
- ``notifications_outbox_last_24h{status}``: rows created in the last 24 hours, by status;
- ``notifications_outbox_oldest_age_seconds{status}``: how long the oldest ``created`` row has been due
  (its deferral, quiet hours or a rate limit, counts from when it ends, so a night's deferred messages
  are not "stuck" at 08:00) and how long the oldest ``queued`` row has waited for a worker.
  0 when there is none. The "stuck outbox" alert watches this.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, timedelta

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications.models import FINAL_STATUSES, STATUSES, Notification, NotificationStatus

PENDING = tuple(status for status in STATUSES if status not in FINAL_STATUSES)


def outbox_metrics() -> Iterable:
    now = utcnow()
    with transaction():  # reads only; ends the transaction so the scrape holds no connection state
        pending = dict(
            db.session.execute(
                select(Notification.status, func.count()).where(Notification.status.in_(PENDING)).group_by(Notification.status)
            ).all()
        )
        recent = dict(
            db.session.execute(
                select(Notification.status, func.count())
                .where(Notification.created_at >= now - timedelta(hours=24))
                .group_by(Notification.status)
            ).all()
        )
        due_since = func.coalesce(Notification.deliver_after, Notification.created_at)
        oldest_created = db.session.scalar(
            select(func.min(due_since)).where(Notification.status == NotificationStatus.CREATED, due_since <= now)
        )
        oldest_queued = db.session.scalar(select(func.min(Notification.updated_at)).where(Notification.status == NotificationStatus.QUEUED))
    pending_family = GaugeMetricFamily("notifications_outbox_pending", "Outbox rows not yet final, by status", labels=["status"])
    for status in PENDING:
        pending_family.add_metric([status], pending.get(status, 0))
    recent_family = GaugeMetricFamily(
        "notifications_outbox_last_24h", "Outbox rows created in the last 24 hours, by status", labels=["status"]
    )
    for status in STATUSES:
        recent_family.add_metric([status], recent.get(status, 0))
    age = GaugeMetricFamily(
        "notifications_outbox_oldest_age_seconds", "Age of the oldest due created row / oldest queued row", labels=["status"]
    )
    for status, oldest in ((NotificationStatus.CREATED, oldest_created), (NotificationStatus.QUEUED, oldest_queued)):
        age.add_metric([status], _age(now, oldest))
    yield pending_family
    yield recent_family
    yield age


def _age(now, oldest) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive values for aggregate results
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())
