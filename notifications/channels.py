"""SMS channel adapters and provider failover.

``SMS_PROVIDER`` chooses: ``log`` (the embedded default: the sandbox), or a comma-separated list, in
order of preference, of ``aliyun`` and ``tencent`` (the providers' official SDKs,
``notifications/sms_vendors/``) and ``http`` (a gateway speaking the protocol below, e.g. an in-house
aggregator; ``SMS_GATEWAYS`` may name several). Every adapter takes an :class:`OutgoingSms` — the rendered
text for gateways that send free text, the template code and parameters for the providers that send only
approved templates — and can be asked (``lookup``) whether it already has a message.

Generic HTTP SMS gateway protocol (on ``mobile_api.http.outbound_session()``; tests run a local server
speaking it):

- ``POST {url}/v1/sms`` ``{"phone", "content", "reference"}`` → ``200 {"message_id"}``; 4xx other
  than 429 is a permanent rejection, 429/5xx/timeouts are temporary;
- ``GET {url}/v1/sms/{reference}`` → ``200 {"message_id", "status"}`` or ``404``: lets the sweep
  find out whether a message a dead worker was sending reached the gateway, so it is never sent twice;
- delivery receipts come back signed to ``POST /api/v1/webhooks/sms/<provider>``.

With two or more providers configured, each send goes to the first *healthy* one in configured order;
a provider is unhealthy while its recent error rate (shared by all workers through
``notifications.counters``) is at or above ``SMS_FAILOVER_ERROR_RATE``. Errors that are the recipient's
(a bad number, a per-number limit) do not count against a provider.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import requests

from mobile_api.extensions import db
from mobile_api.http import outbound_session
from mobile_api.settings import setting
from notifications.models import SandboxMessage

log = logging.getLogger(__name__)


class ChannelError(Exception):
    """Sending failed. ``permanent`` failures are not retried (bad number, rejected content);
    ``provider_fault`` ones count against the provider's health (not a bad number or a per-number limit)."""

    def __init__(self, reason: str, *, permanent: bool = False, provider_fault: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.provider_fault = reason, permanent, provider_fault


@dataclass(frozen=True)
class OutgoingSms:
    """One SMS as every adapter needs it: ``reference`` is our notification id (the providers' OutId /
    SessionContext), ``since`` when the current attempt began (for look-ups by date)."""

    phone: str
    text: str
    reference: str
    template_code: str
    params: dict = field(default_factory=dict)
    since: datetime | None = None


@dataclass
class SendResult:
    provider: str
    provider_ref: str | None
    segments: int | None = None
    # Local adapters know the message arrived; real gateways tell us later through a receipt.
    delivered: bool = False


@dataclass(frozen=True)
class ReceiptReport:
    """One provider's delivery report, whatever its format: matched by our reference (when the provider
    echoes it) or by the provider's own message id."""

    reference: str | None
    provider_ref: str | None
    delivered: bool
    code: str | None = None
    detail: str | None = None


def sms_segments(text: str) -> int:
    """Chinese (UCS-2) SMS: 70 characters fit one message; split messages carry 67 each."""
    length = len(text)
    return 1 if length <= 70 else math.ceil(length / 67)


class LogSmsGateway:
    """Embedded default: logs and keeps the message in the sandbox table for the app team and tests."""

    name = "log"

    def send(self, message: OutgoingSms) -> SendResult:
        phone, text = message.phone, message.text
        log.info("sms to %s****%s (%d chars)", phone[:3], phone[-4:], len(text))
        if setting("SANDBOX_MODE"):
            db.session.add(SandboxMessage(channel="sms", recipient=phone, content=text, meta={"reference": message.reference}))
        return SendResult(self.name, f"log-{message.reference}", sms_segments(text), delivered=True)

    def lookup(self, message: OutgoingSms) -> str | None:
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

    def send(self, message: OutgoingSms) -> SendResult:
        body = {"phone": message.phone, "content": message.text, "reference": message.reference}
        try:
            response = self.session.post(f"{self.base_url}/v1/sms", json=body)
        except requests.Timeout as exc:
            raise ChannelError(f"{self.name}: gateway_timeout") from exc
        except requests.RequestException as exc:
            raise ChannelError(f"{self.name}: gateway_unreachable {type(exc).__name__}") from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            reason = f"{self.name}: gateway_rejected_{response.status_code} {response.text[:200]}"
            raise ChannelError(reason, permanent=True, provider_fault=False)
        if response.status_code >= 300:
            raise ChannelError(f"{self.name}: gateway_error_{response.status_code}")
        try:
            message_id = str(response.json().get("message_id") or "") or None
        except (ValueError, AttributeError):
            message_id = None
        return SendResult(self.name, message_id, sms_segments(message.text))

    def lookup(self, message: OutgoingSms) -> str | None:
        """The gateway's message id for ``message`` if it received it, else None. Raises ChannelError."""
        reference = message.reference
        try:
            response = self.session.get(f"{self.base_url}/v1/sms/{reference}")
        except requests.RequestException as exc:
            raise ChannelError(f"{self.name}: lookup_failed {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ChannelError(f"{self.name}: lookup_failed {response.status_code}")
        return str(response.json().get("message_id") or reference)


def named_gateways(urls: str, keys: str) -> list[tuple[str, str, str | None]]:
    """``"a=http://x,b=http://y"`` (+ ``"a=key1,b=key2"``) → ``[("a", "http://x", "key1"), …]``."""
    key_of = dict(item.split("=", 1) for item in (keys or "").split(",") if "=" in item)
    pairs = [item.split("=", 1) for item in (urls or "").split(",") if "=" in item]
    return [(name.strip(), url.strip(), key_of.get(name.strip())) for name, url in pairs]


VENDORS = ("aliyun", "tencent")


def configured_providers() -> list[str]:
    """``SMS_PROVIDER`` as a list (``log`` alone, or vendors and ``http`` in order of preference)."""
    return [name.strip() for name in str(setting("SMS_PROVIDER") or "log").split(",") if name.strip()]


def configured_vendors() -> list[str]:
    return [name for name in configured_providers() if name in VENDORS]


def configured_gateways() -> list[tuple[str, str, str | None]]:
    """``(name, url, key)`` of every generic HTTP gateway, in order of preference."""
    if "http" not in configured_providers():
        return []
    gateways = list(setting("SMS_GATEWAYS") or [])
    if not gateways and setting("SMS_GATEWAY_URL"):
        gateways = [("http", setting("SMS_GATEWAY_URL"), setting("SMS_GATEWAY_KEY") or None)]
    return gateways


def provider_names() -> list[str]:
    """The names under which SMS providers report (failover, receipts), in order of preference."""
    names: list[str] = []
    for provider in configured_providers():
        if provider == "http":
            names += [name for name, _, _ in configured_gateways()]
        elif provider in VENDORS:
            names.append(provider)
    return names
