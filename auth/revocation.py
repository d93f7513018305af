"""The revocation list: the database is the record, Redis (when configured) a fast copy that may be lost.

A revoked key (``jti:…`` for one token, ``fam:…`` for a sign-in's family) is written to the database
first, then copied to Redis. A check asks Redis when Redis is there and its copy is complete — a
sentinel key says the copy was loaded from the database since Redis last came up empty (a restart
without persistence loses every key, the sentinel with them). Without the sentinel, or with Redis down,
the database answers; a missing sentinel also starts a reload (one process at a time, under a lock key).
The beat job ``auth.sync_revocations`` copies the last minutes' rows again, for a write that Redis missed
while it was unreachable. So a signed-out token never comes back to life, and a Redis outage is never a
500: the check goes on against the database.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select

from auth.models import RevokedToken
from mobile_api.extensions import db
from mobile_api.redis_client import get_redis
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)

PREFIX = "revoked:"
SENTINEL = "revoked:copy-complete"
RELOAD_LOCK = "revoked:reloading"
RECENT = timedelta(minutes=5)  # what the beat job copies again
BATCH = 1000


def add(key: str, ttl: timedelta) -> None:
    """Revoke ``key`` for ``ttl``: the database row (its own transaction), then the Redis copy."""
    now = utcnow()
    with transaction():
        insert_ignoring_conflict(RevokedToken, key=key, expires_at=now + ttl, created_at=now)
        db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    client = get_redis()
    if client is None:
        return
    try:
        client.set(PREFIX + key, "1", ex=max(1, int(ttl.total_seconds())))
    except RedisError as exc:  # the row is written; the beat job copies it once Redis answers again
        log.warning("revocation %s not copied to Redis: %s", key.split(":", 1)[0], type(exc).__name__)


def is_revoked(keys: list[str]) -> bool:
    client = get_redis()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            pipe.exists(*[PREFIX + key for key in keys])
            pipe.exists(SENTINEL)
            found, complete = pipe.execute()
            if found:
                return True
            if complete:
                return False
            reload_copy(client)
        except RedisError as exc:
            log.warning("revocation check falls back to the database: %s", type(exc).__name__)
    return _in_database(keys)


def _in_database(keys: list[str]) -> bool:
    found = db.session.scalar(select(RevokedToken.key).where(RevokedToken.key.in_(keys), RevokedToken.expires_at > utcnow()).limit(1))
    return found is not None


def reload_copy(client: Redis) -> int:
    """Copy every live revocation to Redis, then set the sentinel. One process at a time (lock key)."""
    if not client.set(RELOAD_LOCK, "1", nx=True, ex=120):
        return 0
    try:
        copied = _copy(client, since=None)
        client.set(SENTINEL, utcnow().isoformat())
        log.info("revocation list reloaded into Redis: %d keys", copied)
        return copied
    finally:
        client.delete(RELOAD_LOCK)


def _copy(client: Redis, since: datetime | None) -> int:
    now = utcnow()
    statement = select(RevokedToken.key, RevokedToken.expires_at).where(RevokedToken.expires_at > now)
    if since is not None:
        statement = statement.where(RevokedToken.created_at >= since)
    copied = 0
    # Its own connection: a reload can happen during a request's token check, whose session must not be touched.
    with db.engine.connect() as connection:
        rows = connection.execution_options(yield_per=BATCH).execute(statement)
        for chunk in rows.partitions(BATCH):
            pipe = client.pipeline(transaction=False)
            for key, expires_at in chunk:
                pipe.set(PREFIX + key, "1", ex=max(1, int((expires_at - now).total_seconds())))
            pipe.execute()
            copied += len(chunk)
    return copied


def sync() -> int:
    """The beat job: copy the last minutes' revocations again, or everything when the copy is incomplete."""
    client = get_redis()
    if client is None:
        return 0
    if not client.exists(SENTINEL):
        return reload_copy(client)
    return _copy(client, since=utcnow() - RECENT)
