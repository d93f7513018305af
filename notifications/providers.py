"""Which SMS provider sends: one adapter per configured provider, ordered by recent health (failover).

A provider is unhealthy while its recent error rate (current + previous ``SMS_HEALTH_WINDOW_SECONDS``
window, shared by every worker through ``notifications.counters``) is at or above
``SMS_FAILOVER_ERROR_RATE`` over at least ``SMS_FAILOVER_MIN_ATTEMPTS`` attempts; unhealthy providers are
tried after the healthy ones, least failing first. Adapters: ``channels.py`` (log, generic HTTP),
``sms_vendors/`` (Alibaba Cloud, Tencent Cloud).
"""

from __future__ import annotations

from flask import current_app

from mobile_api.settings import setting
from notifications import counters
from notifications.channels import VENDORS, HttpSmsGateway, LogSmsGateway, configured_gateways, provider_names
from notifications.sms_vendors import vendor_gateway


def all_sms_gateways() -> list:
    """One adapter per configured provider (one client / connection pool per process and settings)."""
    names = provider_names()
    if not names:
        return [LogSmsGateway()]
    cache = current_app.extensions.setdefault("sms_gateways", {})
    timeout = setting("HTTP_TIMEOUT_SECONDS")
    http = {name: (url, key) for name, url, key in configured_gateways()}
    gateways = []
    for name in names:
        if name in VENDORS:
            gateways.append(vendor_gateway(name))
            continue
        url, key = http[name]
        gateway = cache.get((name, url, key, timeout))
        if gateway is None:
            gateway = cache[(name, url, key, timeout)] = HttpSmsGateway(name, url, key, timeout)
        gateways.append(gateway)
    return gateways


def get_sms_gateway():
    """The gateway to use now (failover by recent error rate)."""
    return sms_gateways_by_health()[0]


def sms_gateway_named(name: str):
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


def sms_gateways_by_health() -> list:
    """Healthy gateways in configured order, then the unhealthy ones, least failing first."""
    gateways = all_sms_gateways()
    if len(gateways) == 1:
        return gateways
    healthy = [gateway for gateway in gateways if is_healthy(gateway.name)]
    unhealthy = sorted((gateway for gateway in gateways if gateway not in healthy), key=lambda g: error_rate(g.name)[0])
    return healthy + unhealthy


def record_outcome(name: str, ok: bool, count: int = 1) -> None:
    """Count ``count`` attempts at gateway ``name`` (in the caller's transaction when there is no Redis).
    With a single provider there is nothing to fail over to, and nothing is counted."""
    if len(provider_names()) < 2:
        return
    window = _health_window()
    counters.hit(f"sms:{name}:attempts", window, amount=count)
    if not ok:
        counters.hit(f"sms:{name}:errors", window, amount=count)
