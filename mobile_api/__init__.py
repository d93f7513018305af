"""The platform: ``create_app()`` wires config, extensions, errors, logging, blueprints and Celery."""

from __future__ import annotations

from flask import Flask

from mobile_api.config import load_config


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_config(overrides))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from mobile_api.logging_setup import configure_logging

    configure_logging(app)
    _import_models()
    _init_extensions(app)
    _register_blueprints(app)

    from mobile_api.celery_app import init_celery

    init_celery(app)

    from mobile_api.cli import register_cli

    register_cli(app)

    from mobile_api.startup import run_startup_checks

    run_startup_checks(app)
    return app


# Domain packages. Each may have ``models.py`` (imported so metadata and Alembic see its tables) and
# an ``init_app(app)`` in its ``__init__.py`` that registers its blueprints, beat jobs and tasks.
DOMAINS = ("auth", "notifications", "cases", "appointments", "express", "hotline")


def _import_models() -> None:
    import importlib
    import importlib.util

    import mobile_api.models  # noqa: F401

    for domain in DOMAINS:
        if importlib.util.find_spec(f"{domain}.models") is not None:
            importlib.import_module(f"{domain}.models")


def _init_extensions(app: Flask) -> None:
    from mobile_api import openapi, request_guards
    from mobile_api.errors import ProblemSchema, register_error_handlers
    from mobile_api.extensions import api, db, jwt, limiter, migrate
    from mobile_api.jwt_callbacks import register_jwt_callbacks

    request_guards.register_converters(app)  # before any route exists
    db.init_app(app)
    _configure_sqlite(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    jwt.init_app(app)
    register_jwt_callbacks(jwt)
    limiter.init_app(app)
    api.ERROR_SCHEMA = ProblemSchema
    api.init_app(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "extra_plugins": [openapi.DocumentPlugin()],
        },
    )
    openapi.init_spec(api)
    request_guards.init_app(app)
    from mobile_api.metrics import init_metrics

    init_metrics(app)
    # After api.init_app: our handlers replace flask-smorest's so every error is problem+json.
    register_error_handlers(app)


def _configure_sqlite(app: Flask) -> None:
    """SQLite is shared by web, worker and beat processes: WAL and a busy timeout make that work."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from mobile_api.extensions import db

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is atomic and survives a crashed process; only a power cut can
            # lose the last commits (whole transactions, never half of one). No fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()


def _register_blueprints(app: Flask) -> None:
    import importlib

    from mobile_api.calendar_api import calendar_blp
    from mobile_api.extensions import api
    from mobile_api.health import health_bp

    for blueprint in (health_bp, calendar_blp):
        api.register_blueprint(blueprint)
    for domain in DOMAINS:
        init_domain = getattr(importlib.import_module(domain), "init_app", None)
        if init_domain is not None:
            init_domain(app)
