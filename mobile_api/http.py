"""Outbound HTTP: the one session factory every adapter uses (SMS, WeChat, identity, couriers, payment).

Each session has a default timeout (``HTTP_TIMEOUT_SECONDS`` unless the caller gives one) and retries
what is safe to retry: failed connections (nothing was sent) for every method, and 502/503/504 answers
for idempotent methods only, with a short backoff. A POST that reached the other side is never
re-sent here: whether to try again is the caller's decision (Celery retries, with its own idempotency).
"""

from __future__ import annotations

from typing import Any

import requests
from flask import current_app, has_app_context
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT_SECONDS = 5.0


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def outbound_session(
    *,
    timeout: float | None = None,
    connect_retries: int = 2,
    status_retries: int = 2,
    backoff_seconds: float = 0.2,
    pool_size: int = 10,
) -> requests.Session:
    """A pooled ``requests.Session`` with a default timeout and safe retries."""
    if timeout is None:
        timeout = _configured_timeout()
    retry = Retry(
        total=None,
        connect=connect_retries,
        read=False,  # a read timeout surfaces as requests.ReadTimeout, never re-sent
        status=status_retries,
        other=0,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,  # idempotent methods only
        status_forcelist=(502, 503, 504),
        backoff_factor=backoff_seconds,
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = _TimeoutSession(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _configured_timeout() -> float:
    if has_app_context():
        return float(current_app.config.get("HTTP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
    return DEFAULT_TIMEOUT_SECONDS
