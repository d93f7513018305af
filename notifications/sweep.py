"""The sweep (a beat job): publish what is due or stuck, and settle what a dead worker left ``sending``.

Rows stay ``created`` when the broker was down at commit time or their deferral (quiet hours, rate
limit) is not over; they stay ``queued`` when the broker lost them. A row left ``sending`` by a worker
that died is settled by asking the gateways whether they got it: ``sent`` if one did, else ``queued``
and published again, so nothing is lost and nothing reaches a gateway twice.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications import counters
from notifications.channels import ChannelError, OutgoingSms
from notifications.models import Channel, Notification, NotificationStatus
from notifications.outbox import publish
from notifications.providers import all_sms_gateways
from notifications.templates import TemplateError, get_template
from notifications.transitions import transition

log = logging.getLogger(__name__)

SWEEP_BATCH = 2000


def sweep_stuck(stuck_after: timedelta | None = None) -> int:
    """Publish what is due or stuck (broker was down, worker died, deferral over); settle rows a dead
    worker left ``sending`` by asking the gateways whether they got them. Returns rows published."""
    now = utcnow()
    if stuck_after is None:
        stuck_after = timedelta(seconds=setting("NOTIFY_STUCK_SECONDS"))
    cutoff = now - stuck_after
    created, queued = NotificationStatus.CREATED, NotificationStatus.QUEUED
    with transaction():
        due = db.session.execute(
            select(Notification.id, Notification.urgent)
            .where(
                or_(
                    and_(Notification.status == created, Notification.deliver_after.is_(None), Notification.updated_at < cutoff),
                    and_(Notification.status == created, Notification.deliver_after <= now),
                    and_(Notification.status == queued, Notification.updated_at < cutoff),
                )
            )
            .order_by(Notification.created_at)
            .limit(SWEEP_BATCH)
        ).all()
        counters.purge_expired()
    pending = [(row.id, row.urgent) for row in due] + _settle_abandoned_sends(now, stuck_after)
    published = publish(pending) if pending else 0
    if pending:
        log.info("swept %d notifications, published %d", len(pending), published)
    return published


def sweep_urgent() -> int:
    """The urgent sweep (every NOTIFY_URGENT_SWEEP_SECONDS, on the urgent queue): publish urgent rows the
    broker never got, seconds after, instead of at the minute-long stuck cut-off. Returns rows published."""
    cutoff = utcnow() - timedelta(seconds=setting("NOTIFY_URGENT_STUCK_SECONDS"))
    with transaction():
        due = db.session.scalars(
            select(Notification.id)
            .where(
                Notification.urgent.is_(True),
                Notification.status == NotificationStatus.CREATED,
                Notification.deliver_after.is_(None),
                Notification.updated_at < cutoff,
            )
            .order_by(Notification.created_at)
            .limit(SWEEP_BATCH)
        ).all()
    published = publish([(notification_id, True) for notification_id in due]) if due else 0
    if due:
        log.info("urgent sweep: %d stuck, published %d", len(due), published)
    return published


def _settle_abandoned_sends(now: datetime, stuck_after: timedelta) -> list[tuple[str, bool]]:
    # Longer than any live send can take (two gateway timeouts and some), so a live worker is never raced.
    cutoff = now - max(stuck_after, timedelta(seconds=2 * setting("HTTP_TIMEOUT_SECONDS") + 5))
    rows = db.session.scalars(
        select(Notification).where(Notification.status == NotificationStatus.SENDING, Notification.updated_at < cutoff).limit(SWEEP_BATCH)
    ).all()
    again = []
    for row in rows:
        try:
            message = _as_sms(row)
            found = next(((gw.name, ref) for gw in all_sms_gateways() if message.phone and (ref := gw.lookup(message))), None)
        except ChannelError as exc:
            log.warning("cannot settle notification %s now: %s", row.id, exc.reason)
            continue
        still_abandoned = Notification.updated_at < cutoff
        # One row per transaction: no write transaction stays open across the next row's look-ups.
        with transaction():
            if found:
                transition(
                    row.id,
                    NotificationStatus.SENT,
                    f"recovered: {found[0]} had received it",
                    where=still_abandoned,
                    channel=Channel.SMS,
                    provider=found[0],
                    provider_ref=found[1],
                    sent_at=now,
                )
            elif transition(
                row.id, NotificationStatus.QUEUED, "recovered: the sender died before the gateway got it", where=still_abandoned
            ):
                again.append((row.id, row.urgent))
    return again


def _as_sms(row: Notification) -> OutgoingSms:
    """The SMS the dead worker may have sent, as the providers' look-ups need it."""
    params = json.loads(row.params)
    try:
        text = get_template(row.template_code).render(params)
    except (TemplateError, KeyError):
        text = ""
    return OutgoingSms(row.phone or "", text, row.id, row.template_code, params, row.updated_at)
