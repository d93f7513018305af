"""The package's settings: defaults, the environment, and the SMS gateway list parsed from text."""

from __future__ import annotations

from flask import Flask

import notifications


def test_defaults_without_environment(monkeypatch):
    for name in notifications.DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    app = Flask("settings-test")
    notifications._configure(app)
    assert app.config["SMS_PROVIDER"] == "log" and app.config["SMS_GATEWAYS"] == []
    assert app.config["NOTIFY_QUIET_HOURS"] == "22:00-08:00" and app.config["NOTIFY_MAX_ATTEMPTS"] == 5
    assert app.config["NOTIFY_RETRY_BASE_SECONDS"] == 1.0 and app.config["SMS_FAILOVER_ERROR_RATE"] == 0.5


def test_environment_values_are_typed_and_gateways_parsed(monkeypatch):
    monkeypatch.setenv("SMS_GATEWAYS", "alpha=http://127.0.0.1:1/, beta=http://127.0.0.1:2,broken")
    monkeypatch.setenv("SMS_GATEWAY_KEYS", "alpha=k=1,gamma=unused")
    monkeypatch.setenv("NOTIFY_RETRY_BASE_SECONDS", "0.05")
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "7")
    app = Flask("settings-test")
    notifications._configure(app)
    assert app.config["SMS_GATEWAYS"] == [("alpha", "http://127.0.0.1:1/", "k=1"), ("beta", "http://127.0.0.1:2", None)]
    assert app.config["NOTIFY_RETRY_BASE_SECONDS"] == 0.05 and app.config["NOTIFY_MAX_ATTEMPTS"] == 7


def test_explicit_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "7")
    app = Flask("settings-test")
    app.config.update(NOTIFY_MAX_ATTEMPTS=2, SMS_GATEWAYS=[("alpha", "http://127.0.0.1:1", None)])
    notifications._configure(app)
    assert app.config["NOTIFY_MAX_ATTEMPTS"] == 2 and app.config["SMS_GATEWAYS"] == [("alpha", "http://127.0.0.1:1", None)]
