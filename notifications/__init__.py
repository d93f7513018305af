"""Outbox, templates, channels (SMS, WeChat subscribe message, in-app inbox), Celery tasks."""

from flask import Flask


def init_app(app: Flask) -> None:
    import notifications.messages  # noqa: F401  (this package's own templates)
    import notifications.tasks  # noqa: F401  (workers must know the tasks)
    from mobile_api.celery_app import add_beat_job
    from mobile_api.extensions import api
    from notifications.api import inbox_blp, sandbox_blp, staff_blp, webhook_blp

    for blueprint in (inbox_blp, staff_blp, webhook_blp):
        api.register_blueprint(blueprint)
    if app.config["SANDBOX_MODE"]:
        api.register_blueprint(sandbox_blp)
    add_beat_job(app, "sweep-stuck-notifications", "notifications.sweep_stuck", app.config["NOTIFY_SWEEP_SECONDS"])
