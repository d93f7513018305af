"""Channel adapters. Each has a local implementation (records to the sandbox) and an HTTP one."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

from mobile_api.extensions import db
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


def sms_segments(text: str) -> int:
    """Chinese (UCS-2) SMS: 70 characters fit one message; split messages carry 67 each."""
    length = len(text)
    return 1 if length <= 70 else math.ceil(length / 67)


class LogSmsGateway:
    """Embedded default: logs and keeps the message in the sandbox table for the app team and tests."""

    name = "log"

    def send(self, phone: str, text: str, reference: str) -> SendResult:
        log.info("sms to %s****%s (%d chars)", phone[:3], phone[-4:], len(text))
        if current_app.config["SANDBOX_MODE"]:
            db.session.add(SandboxMessage(channel="sms", recipient=phone, content=text, meta={"reference": reference}))
        return SendResult(self.name, f"log-{reference}", sms_segments(text))


class HttpSmsGateway:
    """``POST {url}/v1/sms {phone, content, reference}`` → ``{"message_id": …}``; 4xx is permanent."""

    def __init__(self, name: str, base_url: str, api_key: str | None, timeout: float) -> None:
        self.name, self.base_url, self.timeout = name, base_url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(pool_maxsize=16))
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def send(self, phone: str, text: str, reference: str) -> SendResult:
        try:
            response = self.session.post(
                f"{self.base_url}/v1/sms", json={"phone": phone, "content": text, "reference": reference}, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise ChannelError("gateway_timeout") from exc
        except requests.RequestException as exc:
            raise ChannelError(f"gateway_unreachable: {type(exc).__name__}") from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise ChannelError(f"gateway_rejected_{response.status_code}: {response.text[:200]}", permanent=True)
        if response.status_code >= 300:
            raise ChannelError(f"gateway_error_{response.status_code}")
        try:
            message_id = response.json().get("message_id")
        except ValueError:
            message_id = None
        return SendResult(self.name, message_id, sms_segments(text))


def get_sms_gateway() -> LogSmsGateway | HttpSmsGateway:
    config = current_app.config
    if config["SMS_PROVIDER"] == "http":
        gateway = current_app.extensions.get("sms_gateway")
        if gateway is None:  # one connection pool per process
            gateway = HttpSmsGateway("http", config["SMS_GATEWAY_URL"], config["SMS_GATEWAY_KEY"], config["HTTP_TIMEOUT_SECONDS"])
            current_app.extensions["sms_gateway"] = gateway
        return gateway
    return LogSmsGateway()
