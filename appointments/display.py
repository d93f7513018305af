"""The call display (叫号屏): what a hall's screens show, and the live stream that keeps them current.

Every change a screen must show (a number issued, called, recalled, finished) adds a row to
``queue_events`` in the same transaction as the change. A screen's Server-Sent Events stream polls the
newest event id of its hall — one indexed query — every ``APPOINTMENTS_DISPLAY_POLL_SECONDS`` and,
when it moved, sends the whole snapshot (tiny) plus the calls to announce. The stream keeps nothing in
process memory, so any number of web processes can serve any screen; the browser reconnects with
``Last-Event-ID`` and hears the calls it missed (if still fresh) instead of old ones again.

A stream holds one web worker thread while it is open, so it ends after
``APPOINTMENTS_DISPLAY_STREAM_SECONDS`` and the browser's EventSource reconnects (``retry``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select

from appointments.halls import hall_or_404
from appointments.models import QueueEvent, QueueEventKind, Ticket, TicketStatus, Window
from cases.models import ServiceItem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction

RECENT_CALLS = 6
ANNOUNCE_WITHIN = timedelta(seconds=60)  # a screen back after a hiccup speaks calls this fresh, no older
_SUFFIX = re.compile(r"[（(].*?[）)]")


def record_event(hall_id: int, kind: QueueEventKind, ticket_no: str | None = None, window_name: str | None = None) -> None:
    """In the caller's transaction: the screens of this hall have something new to show."""
    db.session.add(QueueEvent(hall_id=hall_id, kind=kind, ticket_no=ticket_no, window_name=window_name, created_at=utcnow()))


def announcement(ticket_no: str, window_name: str) -> str:
    """What the screen says aloud: ``请A012号到3号窗口办理`` (a window's "（公安）" group is left out)."""
    return f"请{ticket_no}号到{_SUFFIX.sub('', window_name).strip()}办理"


def latest_event_id(hall_id: int) -> int:
    return db.session.scalar(select(func.max(QueueEvent.id)).where(QueueEvent.hall_id == hall_id)) or 0


def _item_names(codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = db.session.execute(
        select(ServiceItem.code, ServiceItem.name).where(ServiceItem.code.in_(codes), ServiceItem.is_current.is_(True))
    )
    return dict(rows.all())


def _calls(hall_id: int, since: datetime, after_id: int = 0, limit: int = RECENT_CALLS) -> list[dict]:
    rows = db.session.scalars(
        select(QueueEvent)
        .where(
            QueueEvent.hall_id == hall_id,
            QueueEvent.id > after_id,
            QueueEvent.created_at >= since,
            QueueEvent.kind.in_((QueueEventKind.CALLED, QueueEventKind.RECALLED)),
        )
        .order_by(QueueEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "ticket_no": row.ticket_no,
            "window": row.window_name,
            "kind": row.kind,
            "at": row.created_at.astimezone(CITY_TZ),
            "text": announcement(row.ticket_no or "", row.window_name or ""),
        }
        for row in rows
    ]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=CITY_TZ)


def display(hall_id: int, now: datetime | None = None) -> dict:
    """The public call display: what each window is calling, the last calls, how many wait per item.
    No personal data: queue numbers, window names and counts only."""
    now = now or utcnow()
    hall = hall_or_404(hall_id)
    day = now.astimezone(CITY_TZ).date()
    windows = db.session.scalars(select(Window).where(Window.hall_id == hall_id, Window.active.is_(True)).order_by(Window.id)).all()
    calling = dict(
        db.session.execute(
            select(Ticket.window_id, Ticket.ticket_no)
            .where(Ticket.hall_id == hall_id, Ticket.day == day, Ticket.status == TicketStatus.CALLED)
            .order_by(Ticket.called_at)
        ).all()
    )
    waiting = db.session.execute(
        select(Ticket.item_code, func.count())
        .where(Ticket.hall_id == hall_id, Ticket.day == day, Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.item_code)
        .order_by(Ticket.item_code)
    ).all()
    names = _item_names([code for code, _ in waiting])
    return {
        "hall_id": hall_id,
        "hall_name": hall.name,
        "date": day,
        "version": latest_event_id(hall_id),
        "windows": [{"id": w.id, "name": w.name, "calling": calling.get(w.id)} for w in windows],
        "recent_calls": _calls(hall_id, _start_of(day)),
        "waiting": [{"item_code": code, "item_name": names.get(code, code), "count": count} for code, count in waiting],
        "waiting_total": sum(count for _, count in waiting),
    }


def _message(hall_id: int, version: int, announce_after: int | None, now: datetime) -> str:
    with transaction():
        snapshot = display(hall_id, now)
        fresh = [] if announce_after is None else _calls(hall_id, now - ANNOUNCE_WITHIN, after_id=announce_after, limit=20)
    payload = {"snapshot": snapshot, "announce": list(reversed(fresh))}
    data = json.dumps(payload, ensure_ascii=False, default=lambda value: value.isoformat())
    return f"id: {version}\nevent: display\ndata: {data}\n\n"


def stream(hall_id: int, last_event_id: int | None) -> Iterator[str]:
    """Server-Sent Events for one screen. First a snapshot (announcing what came after
    ``last_event_id`` on a reconnect), then a snapshot and the new calls whenever the hall's newest
    event id moves; a comment line keeps idle connections open; the stream ends after its lifetime."""
    poll = float(setting("APPOINTMENTS_DISPLAY_POLL_SECONDS"))
    lifetime = float(setting("APPOINTMENTS_DISPLAY_STREAM_SECONDS"))
    heartbeat = float(setting("APPOINTMENTS_DISPLAY_HEARTBEAT_SECONDS"))
    with transaction():
        hall_or_404(hall_id)
        version = latest_event_id(hall_id)
    ends = time.monotonic() + lifetime
    yield "retry: 2000\n\n"
    yield _message(hall_id, version, last_event_id, utcnow())
    quiet_since = time.monotonic()
    while time.monotonic() < ends:
        time.sleep(poll)
        with transaction():
            newest = latest_event_id(hall_id)
        if newest != version:
            yield _message(hall_id, newest, version, utcnow())
            version, quiet_since = newest, time.monotonic()
        elif time.monotonic() - quiet_since >= heartbeat:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


def purge_events(now: datetime | None = None) -> int:
    """Beat job: events older than two days are of no use to any screen."""
    now = now or utcnow()
    with transaction():
        return db.session.execute(delete(QueueEvent).where(QueueEvent.created_at < now - timedelta(days=2))).rowcount
