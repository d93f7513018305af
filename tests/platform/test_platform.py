"""Platform: health, OpenAPI, problem+json for every error, request ids, production safety."""

from __future__ import annotations

import os
import re

import pytest

from mobile_api.config import ConfigError, load_config


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_broker(client, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    redis = "ok" if os.environ.get("REDIS_URL") else "not_configured"
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok", "redis": redis}


def test_readyz_names_what_is_down(app, monkeypatch):
    # A broker nobody listens on: readiness must say 503 and name the broker, not crash.
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json(force=True)
    assert response.mimetype == "application/problem+json"
    assert body["code"] == "not_ready" and body["down"] == ["broker"]


def test_openapi_describes_every_route(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    # Endpoints a package leaves out on purpose, each with its reason (endpoint → reason).
    excluded = app.extensions.get("openapi_excluded", {})
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static",) or rule.endpoint.startswith("api-docs") or excluded.get(rule.endpoint):
            continue
        if rule.endpoint.startswith("hall_pages."):  # HTML for screens and browsers: out of the JSON API on purpose
            continue
        path = rule.rule.replace("<int:", "{").replace("<string:", "{").replace("<", "{").replace(">", "}")
        assert path in documented, f"{rule.rule} missing from OpenAPI"
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/api/v1/nothing-here", {}, 404, "not_found"),
        ("put", "/api/v1/auth/sms-codes", {"json": {}}, 405, "method_not_allowed"),
        ("post", "/api/v1/auth/sms-codes", {"data": "{bad json", "content_type": "application/json"}, 400, "malformed_json"),
        ("post", "/api/v1/auth/sms-codes", {"data": "phone=1", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ("post", "/api/v1/auth/sms-codes", {"json": {"phone": "123"}}, 422, "validation_failed"),
        ("post", "/api/v1/auth/sms-codes", {"json": ["not", "an", "object"]}, 422, "validation_failed"),
        (
            "post",
            "/api/v1/auth/sms-codes",
            {"data": '{"phone": "' + "1" * 200_000 + '"}', "content_type": "application/json"},
            413,
            "payload_too_large",
        ),
        ("get", "/api/v1/me", {}, 401, "unauthorized"),
        ("get", "/api/v1/me", {"headers": {"Authorization": "Bearer not.a.jwt"}}, 401, "token_invalid"),
    ],
)
def test_every_error_is_problem_json(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code
    assert body["title"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["title"]), "title must be zh-CN"
    assert "Traceback" not in response.get_data(as_text=True)


def test_unexpected_error_is_a_clean_500(app):
    from mobile_api import create_app

    app = create_app()

    @app.route("/__boom_for_test")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/__boom_for_test")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internal detail" not in text and "Traceback" not in text
    assert response.get_json(force=True)["code"] == "internal_error"


def test_request_id_is_echoed_or_assigned(client):
    assert len(client.get("/healthz").headers["X-Request-ID"]) >= 8
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert response.headers["X-Request-ID"] == "abc-123-def-456"
    # Junk ids (log injection) are replaced by a fresh one, not echoed.
    response = client.get("/healthz", headers={"X-Request-ID": "x forged;log line"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_production_refuses_default_secrets(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/prod")
    with pytest.raises(ConfigError) as excinfo:
        load_config()
    assert "JWT_SECRET_KEY" in str(excinfo.value) and "PII_ENCRYPTION_KEY" in str(excinfo.value)


def test_production_without_sandbox_has_no_sandbox_endpoint(monkeypatch):
    import base64
    import os

    from mobile_api import create_app

    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PII_INDEX_KEY", "SMS_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, os.urandom(24).hex())
    monkeypatch.setenv("PII_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    production = create_app()
    assert production.config["SANDBOX_MODE"] is False and production.config["JSON_LOGS"] is True
    response = production.test_client().get("/api/v1/sandbox/messages?phone=13800138000")
    assert response.status_code == 404


def test_json_log_lines_carry_the_request_id(app):
    import io
    import json
    import logging

    from pythonjsonlogger.json import JsonFormatter

    from mobile_api.logging_setup import RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"))
    logger = logging.getLogger("test.request_id")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/", headers={"X-Request-ID": "req-12345678"}):
            app.preprocess_request()
            logger.warning("hello")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().strip())
    assert line["request_id"] == "req-12345678" and line["message"] == "hello"


def test_nul_characters_are_refused_before_the_database(client):
    response = client.post("/api/v1/auth/sms-codes", data='{"phone": "1380013800\\u0000"}', content_type="application/json")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"
    response = client.get("/api/v1/sandbox/messages?phone=138%00")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_characters"
