"""Celery, configured explicitly: named queues, routes, late acks, and an app context per task.

Queue names are the constants of ``mobile_api.queues.QueueNames``; a package routes its own tasks
with :func:`add_task_route` from its ``init_app``.

Tasks are named explicitly (``notifications.send``, not a module path) so names survive refactors.
"""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

from mobile_api.queues import QueueNames

# See mobile_api/sql_broker.py: kombu's SQL transport with a working polling interval and WAL.
TRANSPORT_ALIASES["sqla"] = "mobile_api.sql_broker:Transport"
TRANSPORT_ALIASES["sqlalchemy"] = "mobile_api.sql_broker:Transport"

celery = Celery("mobile_api", set_as_current=True)


class AppContextTask(Task):
    """Every task runs inside the Flask app context; the session is removed afterwards."""

    abstract = True
    flask_app: Flask | None = None

    def __call__(self, *args, **kwargs):
        app = self.flask_app
        if app is None:
            raise RuntimeError("Celery task run before create_app(): start workers with -A mobile_api.worker")
        with app.app_context():
            try:
                return super().__call__(*args, **kwargs)
            finally:
                from mobile_api.extensions import db

                db.session.remove()


celery.Task = AppContextTask  # type: ignore[misc]


def init_celery(app: Flask) -> Celery:
    broker = app.config["CELERY_BROKER_URL"]
    transport_options: dict = {}
    if broker.startswith("sqla+"):
        # The SQL transport polls; 100 ms keeps sign-in codes snappy without busy-looping.
        transport_options = {"polling_interval": 0.1}
    elif broker.startswith("redis"):
        # A task not acknowledged within this time is redelivered (worker died mid-task).
        # Publishing gives up after one quick retry instead of ~6 s per message: with the broker down,
        # a request that commits an outbox row must not hang (the sweep publishes the row later).
        transport_options = {"visibility_timeout": 600, "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
    celery.conf.update(
        broker_url=broker,
        result_backend=app.config.get("CELERY_RESULT_BACKEND"),
        task_ignore_result=True,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(name) for name in QueueNames.all()],
        task_default_queue=QueueNames.DEFAULT,
        task_routes=app.extensions.get("task_routes", {}),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone=app.config["TIMEZONE"],
        enable_utc=True,
        # The SQL transport has no fanout exchange, so remote control cannot work on it.
        worker_enable_remote_control=not broker.startswith("sqla+"),
        worker_hijack_root_logger=False,
        beat_schedule=app.extensions.get("beat_schedule", {}),
        task_always_eager=app.config.get("CELERY_TASK_ALWAYS_EAGER", False),
    )
    AppContextTask.flask_app = app
    app.extensions["celery"] = celery
    return celery


def add_task_route(app: Flask, task_pattern: str, queue: str) -> None:
    """Send tasks matching ``task_pattern`` (``"face.*"``) to ``queue``; packages call this from ``init_app``."""
    app.extensions.setdefault("task_routes", {})[task_pattern] = {"queue": queue}


def add_beat_job(app: Flask, name: str, task: str, seconds: float, queue: str = QueueNames.DEFAULT) -> None:
    """Register a periodic job; packages call this from their ``init_app`` (before Celery is set up)."""
    schedule = app.extensions.setdefault("beat_schedule", {})
    schedule[name] = {"task": task, "schedule": seconds, "options": {"queue": queue}}
