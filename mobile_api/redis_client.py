"""The shared Redis connection, when ``REDIS_URL`` is configured (None in the embedded default)."""

from __future__ import annotations

import redis
from flask import current_app


def get_redis() -> redis.Redis | None:
    """Return a Redis client for this app, or None when the deployment has no Redis.

    The client (and its connection pool) is kept on the app object: it holds no shared mutable data,
    only sockets, so every process having its own is correct.
    """
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis_client")
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        current_app.extensions["redis_client"] = client
    return client
