"""Fixed-window counters shared by every process: Redis when configured, the database otherwise.

Used for per-recipient rate limits and for the SMS providers' recent error rates. A counter's key
carries its window number, so a new window simply starts a new key; old keys expire (Redis TTL, or
the sweep job deletes expired rows).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from mobile_api.extensions import db
from mobile_api.redis_client import get_redis
from mobile_api.timeutil import utcnow
from notifications.models import ChannelCounter

PREFIX = "notif:ctr:"


def window_of(window_seconds: int, now: float | None = None) -> int:
    return int((time.time() if now is None else now) // window_seconds)


def window_end(window_seconds: int, now: float | None = None) -> datetime:
    return datetime.fromtimestamp((window_of(window_seconds, now) + 1) * window_seconds, tz=UTC)


def hit(name: str, window_seconds: int, amount: int = 1) -> int:
    """Add ``amount`` to the current window of ``name``; return the window's new total.

    The database fallback writes in the caller's transaction (its ``transaction()`` block): on SQLite
    a second connection would wait for the session's own write lock.
    """
    key = f"{PREFIX}{name}:{window_of(window_seconds)}"
    client = get_redis()
    if client is not None:
        pipe = client.pipeline()
        pipe.incrby(key, amount)
        pipe.expire(key, window_seconds * 3)
        return int(pipe.execute()[0])
    expires = utcnow() + timedelta(seconds=window_seconds * 3)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ChannelCounter).values(key=key, count=amount, expires_at=expires)
    statement = statement.on_conflict_do_update(
        index_elements=[ChannelCounter.key], set_={"count": ChannelCounter.count + statement.excluded.count}
    ).returning(ChannelCounter.count)
    return db.session.execute(statement).scalar_one()


def read(name: str, window_seconds: int, windows: int = 1) -> int:
    """The sum over the current window and the ``windows - 1`` before it."""
    current = window_of(window_seconds)
    keys = [f"{PREFIX}{name}:{current - back}" for back in range(windows)]
    client = get_redis()
    if client is not None:
        return sum(int(value) for value in client.mget(keys) if value is not None)
    return sum(db.session.scalars(select(ChannelCounter.count).where(ChannelCounter.key.in_(keys))).all())


def purge_expired() -> int:
    """Delete expired database counters (the Redis ones expire by themselves), in the caller's transaction."""
    return db.session.execute(delete(ChannelCounter).where(ChannelCounter.expires_at < utcnow())).rowcount
