"""Outbox, templates, channels (SMS, WeChat subscribe message, in-app inbox), Celery tasks.

How a message travels
---------------------
``notify()`` inserts an outbox row (``created``) in the caller's transaction; after commit the row is
published to Celery (``queued``): the ``urgent`` queue for urgent templates (sign-in codes), ``notify``
for the rest. A worker claims it with a conditional UPDATE (``sending``), picks the channel and sends:
``sent``, then ``delivered`` (local adapters, WeChat, or the SMS gateway's signed receipt),
``temporary_failure`` / ``permanent_failure`` (receipt, rejected, gave up after NOTIFY_MAX_ATTEMPTS,
or older than the maximum age), or ``cancelled`` (no usable channel). Every change is recorded in
``notification_events``; final statuses never change again. The beat job ``notifications.sweep_stuck``
publishes rows the broker never got, rows whose deferral is over, and settles rows a dead worker left
``sending`` by asking the gateways (``GET /v1/sms/<reference>``) instead of sending again.

Channels, per template in order: ``inbox`` (a copy for account holders), then the first usable of
``wechat`` (bound WeChat + a one-time subscription + ``wechat_template_id``; refused → SMS) and ``sms``
(failover between SMS_GATEWAYS by recent error rate). Non-essential templates respect the citizen's
opt-outs; non-urgent ones wait for the end of quiet hours (NOTIFY_QUIET_HOURS, city time) and are
limited per phone (NOTIFY_SMS_PER_RECIPIENT per NOTIFY_SMS_RATE_WINDOW_SECONDS, deferred not dropped).

Shared state (Redis when configured, else the database): per-recipient counters and provider error
rates (``channel_counters``), the WeChat access token (``channel_tokens``).

Endpoints: ``/api/v1/me/messages`` (+ ``/<id>/read``), ``/api/v1/me/notification-preferences``,
``/api/v1/me/wechat-subscriptions``, ``/api/v1/staff/notifications`` (+ ``/counts``, ``/<id>``,
``/<id>/resend``; admin/supervisor), ``/api/v1/webhooks/sms/<provider>`` (HMAC-SHA256 of
``"<X-Sms-Timestamp>.<body>"`` with SMS_WEBHOOK_SECRET in ``X-Sms-Signature``), ``/api/v1/sandbox/messages``.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    import notifications.messages
    import notifications.tasks  # noqa: F401  (workers must know the tasks)
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.extensions import api
    from mobile_api.queues import QueueNames
    from notifications.api import inbox_blp, sandbox_blp, staff_blp, webhook_blp

    for blueprint in (inbox_blp, staff_blp, webhook_blp):
        api.register_blueprint(blueprint)
    if app.config["SANDBOX_MODE"]:
        api.register_blueprint(sandbox_blp)
    add_task_route(app, "notifications.send_urgent", QueueNames.URGENT)
    add_task_route(app, "notifications.send", QueueNames.NOTIFY)
    add_beat_job(app, "sweep-stuck-notifications", "notifications.sweep_stuck", app.config["NOTIFY_SWEEP_SECONDS"])
