"""Configuration from the environment.

With no environment set the service runs on its embedded default: SQLite files under
``instance/``, kombu's SQLAlchemy transport on a SQLite file as the Celery broker, sandbox mode on
and demo data loaded. ``APP_ENV=production`` turns the sandbox off, switches to JSON logs and
refuses to start with any of the development secrets below.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from mobile_api.keyring import KeyringError, check_keyrings, configured_secrets

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))

# Development-only secrets. Production refuses to start while any of them is in use.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"
DEV_JWT_SECRET_KEY = "dev-jwt-secret-key-not-for-production-0123456789"
DEV_PII_ENCRYPTION_KEY = "ZGV2LXBpaS1rZXktMzItYnl0ZXMtbG9uZy0wMTIzNDU="  # 32 bytes, base64
DEV_PII_INDEX_KEY = "dev-pii-blind-index-key-not-for-production"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"
DEV_DEMO_PASSWORD = "Demo-2026!"

SECRET_DEFAULTS = {
    "SECRET_KEY": DEV_SECRET_KEY,
    "JWT_SECRET_KEY": DEV_JWT_SECRET_KEY,
    "PII_ENCRYPTION_KEY": DEV_PII_ENCRYPTION_KEY,
    "PII_INDEX_KEY": DEV_PII_INDEX_KEY,
    "SMS_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
}


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration is unsafe or incomplete."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from the environment, then apply ``overrides``."""
    env = _env("APP_ENV", "development")
    production = env == "production"
    INSTANCE.mkdir(parents=True, exist_ok=True)
    database_url = _env("DATABASE_URL", f"sqlite:///{INSTANCE / 'mobile_api.sqlite'}")
    redis_url = _env("REDIS_URL")
    broker_url = _env("CELERY_BROKER_URL") or redis_url or f"sqla+sqlite:///{INSTANCE / 'celery-broker.sqlite'}"

    config: dict = {
        "APP_ENV": env,
        "PRODUCTION": production,
        "TESTING": False,
        "SECRET_KEY": _env("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A request may hold two connections (its session's, and the Idempotency-Key claim's own): the
        # pool keeps enough for gunicorn's 8 threads, so connections are reused instead of opened and
        # closed per request (a new PostgreSQL connection forks a backend process).
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_size": _int("DB_POOL_SIZE", 16),
            "max_overflow": _int("DB_MAX_OVERFLOW", 16),
        },
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker_url,
        # Celery task results are not used for control flow (state lives in the database).
        "CELERY_RESULT_BACKEND": _env("CELERY_RESULT_BACKEND"),
        "SANDBOX_MODE": _bool("SANDBOX_MODE", not production),
        "LOAD_DEMO_DATA": _bool("LOAD_DEMO_DATA", not production),
        "DEMO_PASSWORD": _env("DEMO_PASSWORD", DEV_DEMO_PASSWORD),
        "JSON_LOGS": _bool("JSON_LOGS", production),
        "LOG_LEVEL": _env("LOG_LEVEL", "INFO"),
        # Bodies: uploads are capped per endpoint; this is the absolute ceiling.
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 20 * 1024 * 1024),
        "MAX_JSON_BODY": _int("MAX_JSON_BODY", 64 * 1024),
        "MAX_JSON_DEPTH": _int("MAX_JSON_DEPTH", 32),
        # JWT
        "JWT_SECRET_KEY": _env("JWT_SECRET_KEY", DEV_JWT_SECRET_KEY),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(seconds=_int("JWT_ACCESS_SECONDS", 900)),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=_int("JWT_REFRESH_DAYS", 30)),
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ERROR_MESSAGE_KEY": "detail",
        # Key rings (mobile_api/keyring.py): "id:key,id:key" newest first; when unset, the single key is "k0".
        "JWT_SECRET_KEYS": _env("JWT_SECRET_KEYS"),
        # Tokens this process has verified, remembered until they expire (mobile_api/verified_tokens.py); 0 turns it off.
        "JWT_VERIFIED_CACHE_SIZE": _int("JWT_VERIFIED_CACHE_SIZE", 4096),
        # PII
        "PII_ENCRYPTION_KEY": _env("PII_ENCRYPTION_KEY", DEV_PII_ENCRYPTION_KEY),
        "PII_INDEX_KEY": _env("PII_INDEX_KEY", DEV_PII_INDEX_KEY),
        "PII_ENCRYPTION_KEYS": _env("PII_ENCRYPTION_KEYS"),
        "PII_INDEX_KEYS": _env("PII_INDEX_KEYS"),
        # Rate limiting (Flask-Limiter). Redis when configured, else process memory.
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        # Off: Flask-Limiter would overwrite our own Retry-After (e.g. the 60 s SMS cooldown) with its
        # window's reset; mobile_api.errors sets Retry-After on the limiter's 429s itself.
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        # Redis down: limits go on in process memory (fail open to a local limit), never a 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        # External parties
        "SMS_WEBHOOK_SECRET": _env("SMS_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        "WECHAT_PROVIDER": _env("WECHAT_PROVIDER", "local"),
        "WECHAT_API_BASE": _env("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        "WECHAT_APPID": _env("WECHAT_APPID", "wx-dev-appid"),
        "WECHAT_SECRET": _env("WECHAT_SECRET", "wx-dev-secret"),
        "HTTP_TIMEOUT_SECONDS": float(_env("HTTP_TIMEOUT_SECONDS", "5")),
        # GET /metrics (mobile_api/metrics.py): a scraper sends "Authorization: Bearer <token>"; unset,
        # only loopback clients are answered.
        "METRICS_TOKEN": _env("METRICS_TOKEN"),
        "TIMEZONE": "Asia/Shanghai",
        # OpenAPI (flask-smorest)
        "API_TITLE": "掌上市民之家 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
    }
    if overrides:
        config.update(overrides)
    try:
        check_keyrings(config)
    except KeyringError as exc:
        raise ConfigError(str(exc)) from None
    if config["PRODUCTION"]:
        check_production_config(config)
    return config


# Secrets that may also come as a key ring (mobile_api/keyring.py): the ring's list setting, if set, is checked.
KEYRING_SETTINGS = {"JWT_SECRET_KEY": "JWT_SECRET_KEYS", "PII_ENCRYPTION_KEY": "PII_ENCRYPTION_KEYS", "PII_INDEX_KEY": "PII_INDEX_KEYS"}


def check_production_config(config: dict) -> None:
    """Refuse to run production with development secrets or the embedded stores."""
    problems = []
    for name, dev in SECRET_DEFAULTS.items():
        ring = KEYRING_SETTINGS.get(name)
        secrets = configured_secrets(config, ring, name) if ring else [config.get(name)]
        if any(secret in (None, "", dev) for secret in secrets):
            problems.append(ring if ring and config.get(ring) else name)
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        problems.append("DATABASE_URL (SQLite is for the embedded default only)")
    if config["SANDBOX_MODE"]:
        problems.append("SANDBOX_MODE (must be off in production)")
    if problems:
        raise ConfigError("Refusing to start in production with unsafe settings: " + ", ".join(problems))
