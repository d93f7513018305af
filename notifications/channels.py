"""SMS channel adapters and provider failover. Each adapter has a local implementation (records to the
sandbox) and an HTTP one on ``mobile_api.http.outbound_session()`` (timeouts, one connection pool per
process).

HTTP SMS gateway protocol (what the providers' adapters speak; tests run a local server speaking it):

- ``POST {url}/v1/sms`` ``{"phone", "content", "reference"}`` → ``200 {"message_id"}``; 4xx other
  than 429 is a permanent rejection, 429/5xx/timeouts are temporary;
- ``GET {url}/v1/sms/{reference}`` → ``200 {"message_id", "status"}`` or ``404``: lets the sweep
  find out whether a message a dead worker was sending reached the gateway, so it is never sent twice;
- delivery receipts come back signed to ``POST /api/v1/webhooks/sms/<provider>``.

With two or more gateways configured, each send goes to the first *healthy* one in configured order;
a gateway is unhealthy while its recent error rate (shared by all workers through
``notifications.counters``) is at or above ``SMS_FAILOVER_ERROR_RATE``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import requests
from flask import current_app

from mobile_api.extensions import db
from mobile_api.http import outbound_session
from mobile_api.settings import setting
from notifications import counters
from notifications.models import SandboxMessage

log = logging.getLogger(__name__)


class ChannelError(Exception):
    """Sending failed. ``permanent`` failures are not retried (bad number, rejected content)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


@dataclass
class SendResult:
    provider: str
    provider_ref: str | None
    segments: int | None = None
    # Local adapters know the message arrived; real gateways tell us later through a receipt.
    delivered: bool = False


def sms_segments(text: str) -> int:
    """Chinese (UCS-2) SMS: 70 characters fit one message; split messages carry 67 each."""
    length = len(text)
    return 1 if length <= 70 else math.ceil(length / 67)


class LogSmsGateway:
    """Embedded default: logs and keeps the message in the sandbox table for the app team and tests."""

    name = "log"

    def send(self, phone: str, text: str, reference: str) -> SendResult:
        log.info("sms to %s****%s (%d chars)", phone[:3], phone[-4:], len(text))
        if setting("SANDBOX_MODE"):
            db.session.add(SandboxMessage(channel="sms", recipient=phone, content=text, meta={"reference": reference}))
        return SendResult(self.name, f"log-{reference}", sms_segments(text), delivered=True)

    def lookup(self, reference: str) -> str | None:
        # The sandbox row commits together with the notification's status: nothing can be in doubt.
        return None


class HttpSmsGateway:
    """A real SMS provider over HTTP (protocol in the module docstring)."""

    def __init__(self, name: str, base_url: str, api_key: str | None, timeout: float) -> None:
        self.name, self.base_url, self.timeout = name, base_url.rstrip("/"), timeout
        # No retries inside the session: a failed send is retried by the task (backoff, failover by
        # error rate, counted attempts), and the sweep's "abandoned send" cutoff assumes one timeout
        # per call. One pool per process and gateway, as many connections as worker threads may use.
        self.session = outbound_session(timeout=timeout, connect_retries=0, status_retries=0, pool_size=16)
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def send(self, phone: str, text: str, reference: str) -> SendResult:
        try:
            response = self.session.post(f"{self.base_url}/v1/sms", json={"phone": phone, "content": text, "reference": reference})
        except requests.Timeout as exc:
            raise ChannelError(f"{self.name}: gateway_timeout") from exc
        except requests.RequestException as exc:
            raise ChannelError(f"{self.name}: gateway_unreachable {type(exc).__name__}") from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise ChannelError(f"{self.name}: gateway_rejected_{response.status_code} {response.text[:200]}", permanent=True)
        if response.status_code >= 300:
            raise ChannelError(f"{self.name}: gateway_error_{response.status_code}")
        try:
            message_id = str(response.json().get("message_id") or "") or None
        except (ValueError, AttributeError):
            message_id = None
        return SendResult(self.name, message_id, sms_segments(text))

    def lookup(self, reference: str) -> str | None:
        """The gateway's message id for ``reference`` if it received it, else None. Raises ChannelError."""
        try:
            response = self.session.get(f"{self.base_url}/v1/sms/{reference}")
        except requests.RequestException as exc:
            raise ChannelError(f"{self.name}: lookup_failed {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ChannelError(f"{self.name}: lookup_failed {response.status_code}")
        return str(response.json().get("message_id") or reference)


SmsGateway = LogSmsGateway | HttpSmsGateway


def named_gateways(urls: str, keys: str) -> list[tuple[str, str, str | None]]:
    """``"a=http://x,b=http://y"`` (+ ``"a=key1,b=key2"``) → ``[("a", "http://x", "key1"), …]``."""
    key_of = dict(item.split("=", 1) for item in (keys or "").split(",") if "=" in item)
    pairs = [item.split("=", 1) for item in (urls or "").split(",") if "=" in item]
    return [(name.strip(), url.strip(), key_of.get(name.strip())) for name, url in pairs]


def configured_gateways() -> list[tuple[str, str, str | None]]:
    """``(name, url, key)`` of every HTTP gateway, in order of preference."""
    if setting("SMS_PROVIDER") != "http":
        return []
    gateways = list(setting("SMS_GATEWAYS") or [])
    if not gateways and setting("SMS_GATEWAY_URL"):
        gateways = [("http", setting("SMS_GATEWAY_URL"), setting("SMS_GATEWAY_KEY") or None)]
    return gateways


def all_sms_gateways() -> list[SmsGateway]:
    configured = configured_gateways()
    if not configured:
        return [LogSmsGateway()]
    cache = current_app.extensions.setdefault("sms_gateways", {})
    timeout = setting("HTTP_TIMEOUT_SECONDS")
    gateways = []
    for name, url, key in configured:
        gateway = cache.get((name, url, key, timeout))
        if gateway is None:  # one connection pool per process and gateway
            gateway = cache[(name, url, key, timeout)] = HttpSmsGateway(name, url, key, timeout)
        gateways.append(gateway)
    return gateways


def get_sms_gateway() -> SmsGateway:
    """The gateway to use now (failover by recent error rate)."""
    return sms_gateways_by_health()[0]


def sms_gateway_named(name: str) -> SmsGateway | None:
    return next((gateway for gateway in all_sms_gateways() if gateway.name == name), None)


# --- provider health ------------------------------------------------------------------------------


def _health_window() -> int:
    return setting("SMS_HEALTH_WINDOW_SECONDS")


def error_rate(name: str) -> tuple[float, int]:
    """Recent (current + previous window) error rate and attempt count of gateway ``name``."""
    window = _health_window()
    attempts = counters.read(f"sms:{name}:attempts", window, windows=2)
    errors = counters.read(f"sms:{name}:errors", window, windows=2)
    return (errors / attempts if attempts else 0.0), attempts


def is_healthy(name: str) -> bool:
    rate, attempts = error_rate(name)
    return attempts < setting("SMS_FAILOVER_MIN_ATTEMPTS") or rate < setting("SMS_FAILOVER_ERROR_RATE")


def sms_gateways_by_health() -> list[SmsGateway]:
    """Healthy gateways in configured order, then the unhealthy ones, least failing first."""
    gateways = all_sms_gateways()
    if len(gateways) == 1:
        return gateways
    healthy = [gateway for gateway in gateways if is_healthy(gateway.name)]
    unhealthy = sorted((gateway for gateway in gateways if gateway not in healthy), key=lambda g: error_rate(g.name)[0])
    return healthy + unhealthy


def record_outcome(name: str, ok: bool) -> None:
    """Count one attempt at gateway ``name`` (in the caller's transaction when there is no Redis).
    With a single gateway there is nothing to fail over to, and nothing is counted."""
    if len(configured_gateways()) < 2:
        return
    window = _health_window()
    counters.hit(f"sms:{name}:attempts", window)
    if not ok:
        counters.hit(f"sms:{name}:errors", window)
