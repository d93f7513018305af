"""WeChat mini program subscribe messages (``subscribeMessage.send``).

The HTTP adapter speaks WeChat's API: ``GET /cgi-bin/token`` for the access token and
``POST /cgi-bin/message/subscribe/send?access_token=…``. The access token is shared by every worker:
cached in Redis (or, without Redis, in the ``channel_tokens`` table) and refreshed
``WECHAT_TOKEN_MARGIN_SECONDS`` before it expires, by one process at a time (a short lock) so that
workers do not invalidate each other's tokens. ``LocalWeChat`` records to the sandbox instead.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import or_, select, update

from mobile_api.extensions import db
from mobile_api.http import outbound_session
from mobile_api.redis_client import get_redis
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications.channels import ChannelError, SendResult
from notifications.models import ChannelToken, SandboxMessage

log = logging.getLogger(__name__)

TOKEN_INVALID = {40001, 40014, 42001}
NOT_SUBSCRIBED = 43101  # the user has not (or no longer) accepted this template
PERMANENT = {40003, 40037, 41030, 47003, NOT_SUBSCRIBED}
LOCK_SECONDS = 10


def message_data(params: dict) -> dict:
    """WeChat's ``data`` field: ``{key: {"value": …}}``; ``thing`` values hold at most 20 characters."""
    return {name: {"value": str(value)[:20]} for name, value in params.items()}


class LocalWeChat:
    name = "wechat-local"

    def send(self, openid: str, template_id: str, page: str, params: dict, text: str, reference: str) -> SendResult:
        if setting("SANDBOX_MODE"):
            meta = {"reference": reference, "template_id": template_id, "page": page, "data": message_data(params)}
            db.session.add(SandboxMessage(channel="wechat", recipient=openid, content=text, meta=meta))
        return SendResult(self.name, f"local-{reference}", None, delivered=True)


class HttpWeChat:
    name = "wechat"

    def __init__(self, base_url: str, appid: str, secret: str, timeout: float) -> None:
        self.base_url, self.appid, self.secret, self.timeout = base_url.rstrip("/"), appid, secret, timeout
        # No retries inside the session: a failed WeChat send falls back to SMS at once, and the token
        # wait (``access_token``) is bounded by one timeout per call.
        self.session = outbound_session(timeout=timeout, connect_retries=0, status_retries=0, pool_size=16)

    def send(self, openid: str, template_id: str, page: str, params: dict, text: str, reference: str) -> SendResult:
        token = access_token(self)
        body = self._post_send(token, openid, template_id, page, params)
        if body.get("errcode") in TOKEN_INVALID:  # revoked or expired early: refresh once, only if still ours
            token = access_token(self, stale=token)
            body = self._post_send(token, openid, template_id, page, params)
        code = body.get("errcode", 0)
        if code == 0:
            return SendResult(self.name, str(body.get("msgid") or "") or None, None, delivered=True)
        reason = f"wechat_error_{code}: {str(body.get('errmsg', ''))[:100]}"
        raise ChannelError("wechat_not_subscribed" if code == NOT_SUBSCRIBED else reason, permanent=code in PERMANENT)

    def _post_send(self, token: str, openid: str, template_id: str, page: str, params: dict) -> dict:
        payload = {"touser": openid, "template_id": template_id, "data": message_data(params)}
        if page:
            payload["page"] = page
        try:
            response = self.session.post(f"{self.base_url}/cgi-bin/message/subscribe/send", params={"access_token": token}, json=payload)
            response.raise_for_status()
            return response.json()
        except requests.Timeout as exc:
            raise ChannelError("wechat_timeout") from exc
        except (requests.RequestException, ValueError) as exc:
            raise ChannelError(f"wechat_unreachable: {type(exc).__name__}") from exc

    def fetch_token(self) -> tuple[str, int]:
        try:
            response = self.session.get(
                f"{self.base_url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ChannelError(f"wechat_token_unreachable: {type(exc).__name__}") from exc
        if "access_token" not in body:
            raise ChannelError(f"wechat_token_error_{body.get('errcode')}: {str(body.get('errmsg', ''))[:100]}")
        return body["access_token"], int(body.get("expires_in", 7200))


def get_wechat() -> LocalWeChat | HttpWeChat:
    if setting("WECHAT_PROVIDER") != "http":
        return LocalWeChat()
    base_url, appid, timeout = setting("WECHAT_API_BASE"), setting("WECHAT_APPID"), setting("HTTP_TIMEOUT_SECONDS")
    cache = current_app.extensions.setdefault("wechat_clients", {})
    if (base_url, appid, timeout) not in cache:  # one connection pool per process
        cache[(base_url, appid, timeout)] = HttpWeChat(base_url, appid, setting("WECHAT_SECRET"), timeout)
    return cache[(base_url, appid, timeout)]


# --- the shared access token ----------------------------------------------------------------------


def _token_name(client: HttpWeChat) -> str:
    return f"wechat-access-token:{client.appid}"


def _margin() -> int:
    return setting("WECHAT_TOKEN_MARGIN_SECONDS")


def access_token(client: HttpWeChat, stale: str | None = None) -> str:
    """The current token; fetched by one process when missing, near expiry, or equal to ``stale``."""
    redis_client = get_redis()
    deadline = time.monotonic() + LOCK_SECONDS + client.timeout
    while True:
        if redis_client is not None:
            token = _redis_token(redis_client, client, stale)
        else:
            token = _db_token(client, stale)
        if token:
            return token
        if time.monotonic() > deadline:
            raise ChannelError("wechat_token_unavailable")
        time.sleep(0.05)  # another process is fetching it


def _redis_token(redis_client, client: HttpWeChat, stale: str | None) -> str | None:
    name = _token_name(client)
    token = redis_client.get(name)
    if token and token != stale:
        return token
    if not redis_client.set(f"{name}:lock", "1", nx=True, ex=LOCK_SECONDS):
        return None
    try:
        token = redis_client.get(name)
        if token and token != stale:  # somebody refreshed it meanwhile
            return token
        token, expires_in = client.fetch_token()
        redis_client.set(name, token, ex=max(1, expires_in - _margin()))
        log.info("wechat access token refreshed (valid %d s)", expires_in)
        return token
    finally:
        redis_client.delete(f"{name}:lock")


def _db_token(client: HttpWeChat, stale: str | None) -> str | None:
    """Without Redis: a row per app id; a conditional UPDATE elects the process that refreshes it.

    Each step commits on its own: the election (a lease in ``refreshing_until``) must be visible to
    the other processes while this one calls WeChat, and no transaction stays open across that call.
    """
    name, now = _token_name(client), utcnow()
    with transaction():
        row = db.session.get(ChannelToken, name, populate_existing=True)
        if row is not None and row.value and row.expires_at > now and row.value != stale:
            return row.value
        insert_ignoring_conflict(ChannelToken, name=name, value=None, expires_at=now, refreshing_until=None)
        elected = db.session.execute(
            update(ChannelToken)
            .where(ChannelToken.name == name, or_(ChannelToken.refreshing_until.is_(None), ChannelToken.refreshing_until < now))
            .values(refreshing_until=now + timedelta(seconds=LOCK_SECONDS))
        ).rowcount
    if not elected:
        return None  # another process holds the lease: the caller waits and looks again
    with transaction():
        row = db.session.get(ChannelToken, name, populate_existing=True)
        if row.value and row.expires_at > utcnow() and row.value != stale:  # refreshed while we looked
            token = row.value
            _release_lease(name)
            return token
    try:
        token, expires_in = client.fetch_token()
    except ChannelError:
        with transaction():
            _release_lease(name)
        raise
    with transaction():
        db.session.execute(
            update(ChannelToken)
            .where(ChannelToken.name == name)
            .values(value=token, expires_at=utcnow() + timedelta(seconds=max(1, expires_in - _margin())), refreshing_until=None)
        )
    log.info("wechat access token refreshed (valid %d s)", expires_in)
    return token


def _release_lease(name: str) -> None:
    db.session.execute(update(ChannelToken).where(ChannelToken.name == name).values(refreshing_until=None))


def cached_token_expiry() -> float | None:
    """Seconds until the cached token must be refreshed (for tests and health pages), None if none."""
    client = get_wechat()
    if not isinstance(client, HttpWeChat):
        return None
    redis_client = get_redis()
    if redis_client is not None:
        ttl = redis_client.ttl(_token_name(client))
        return float(ttl) if ttl and ttl > 0 else None
    expires = db.session.scalar(select(ChannelToken.expires_at).where(ChannelToken.name == _token_name(client)))
    return (expires - utcnow()).total_seconds() if expires else None
