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
``sending`` by asking the providers (Alibaba Cloud ``QuerySendDetails``, Tencent Cloud
``PullSmsSendStatusByPhoneNumber``, a generic gateway's ``GET /v1/sms/<reference>``) instead of sending again.

Channels: the in-app inbox copy first — written by ``notify()`` with the outbox row, in the caller's
transaction, for every message to an account holder except sign-in codes, never held — then the first
usable of ``wechat`` (bound WeChat + a one-time subscription + ``wechat_template_id``; refused → SMS)
and ``sms`` (``SMS_PROVIDER``: Alibaba Cloud and Tencent Cloud through their SDKs, ``sms_vendors/``, or
generic HTTP gateways; failover by recent error rate, ``providers.py``). A template's kind
(``models.MessageKind``) decides the rest: only reminders and notices are optional (the citizen's
opt-outs), wait for the end of quiet hours (NOTIFY_QUIET_HOURS, city time) and are limited per phone
(NOTIFY_SMS_PER_RECIPIENT per NOTIFY_SMS_RATE_WINDOW_SECONDS, deferred not dropped); a result, a code or
a same-day change is never held. An urgent publish that fails is retried at once with a short backoff,
and ``notifications.sweep_urgent`` (every NOTIFY_URGENT_SWEEP_SECONDS, urgent queue) publishes what
the broker still never got.

Shared state (Redis when configured, else the database): per-recipient counters and provider error
rates (``channel_counters``), the WeChat access token (``channel_tokens``).

Endpoints: ``/api/v1/me/messages`` (+ ``/<id>/read``), ``/api/v1/me/notification-preferences``,
``/api/v1/me/wechat-subscriptions``, ``/api/v1/staff/notifications`` (+ ``/counts``, ``/<id>``,
``/<id>/resend``; admin/supervisor), ``/api/v1/webhooks/sms/aliyun`` and ``/tencent`` (each provider's push
format, ``?token=`` from the callback URL), ``/api/v1/webhooks/sms/<provider>`` (generic gateways: HMAC-SHA256
of ``"<X-Sms-Timestamp>.<body>"`` with SMS_WEBHOOK_SECRET in ``X-Sms-Signature``), ``/api/v1/sandbox/messages``.

Rooms: ``service.py`` (the verbs, gathered from ``outbox.py``, ``delivery.py``, ``transitions.py``,
``receipts.py``, ``sweep.py``, ``inbox.py``, ``staff.py``), ``channels.py`` + ``sms_vendors/`` + ``wechat.py``
(adapters), ``providers.py`` (failover), ``outbox_metrics.py`` (scrape-time metrics), ``personal_data.py``
(export / erasure),
``counters.py`` (shared windowed counters), ``templates.py`` + ``messages.py``, ``models.py``,
``schemas.py``, ``api.py``, ``tasks.py``. Settings: ``DEFAULTS`` below.
"""

from flask import Flask

from mobile_api.config import ConfigError
from mobile_api.metrics import register_scrape_collector
from mobile_api.personal_data import register_personal_data
from mobile_api.settings import register_settings
from mobile_api.startup import register_startup_check

# Environment variable of the same name overrides each default (mobile_api.settings).
DEFAULTS: dict[str, str | int | float] = {
    # SMS: "log" (embedded default: the sandbox), or providers in order of preference, comma-separated,
    # among "aliyun", "tencent" (official SDKs, notifications/sms_vendors/) and "http" (generic gateways).
    # "http": one gateway (URL + key), or several as "name=url,name=url" with keys in SMS_GATEWAY_KEYS
    # "name=key,…" (parsed into SMS_GATEWAYS at start).
    "SMS_PROVIDER": "log",
    "SMS_GATEWAY_URL": "",  # empty: none (register_settings types env values by their default)
    "SMS_GATEWAY_KEY": "",
    "SMS_GATEWAYS": "",
    "SMS_GATEWAY_KEYS": "",
    # Per-provider template codes and parameter mappings: inline JSON or a TOML/JSON file path
    # (notifications/sms_vendors/templates.py). Checked at start-up for the configured providers.
    "SMS_VENDOR_TEMPLATES": "",
    # Alibaba Cloud SMS. Receipts: POST /api/v1/webhooks/sms/aliyun?token=<SMS_ALIYUN_CALLBACK_TOKEN>.
    "SMS_ALIYUN_ACCESS_KEY_ID": "",
    "SMS_ALIYUN_ACCESS_KEY_SECRET": "",
    "SMS_ALIYUN_SIGN_NAME": "",
    "SMS_ALIYUN_ENDPOINT": "dysmsapi.aliyuncs.com",
    "SMS_ALIYUN_PROTOCOL": "https",
    "SMS_ALIYUN_CALLBACK_TOKEN": "",
    # Tencent Cloud SMS. Receipts: POST /api/v1/webhooks/sms/tencent?token=<SMS_TENCENT_CALLBACK_TOKEN>.
    "SMS_TENCENT_SECRET_ID": "",
    "SMS_TENCENT_SECRET_KEY": "",
    "SMS_TENCENT_SDK_APP_ID": "",
    "SMS_TENCENT_SIGN_NAME": "",
    "SMS_TENCENT_REGION": "ap-guangzhou",
    "SMS_TENCENT_ENDPOINT": "sms.tencentcloudapi.com",
    "SMS_TENCENT_PROTOCOL": "https",
    "SMS_TENCENT_EXTEND_CODE": "",
    "SMS_TENCENT_CALLBACK_TOKEN": "",
    # Failover: a gateway whose recent error rate reaches this (over at least that many attempts in
    # the current and previous window) is tried after the healthy ones.
    "SMS_FAILOVER_ERROR_RATE": 0.5,
    "SMS_FAILOVER_MIN_ATTEMPTS": 3,
    "SMS_HEALTH_WINDOW_SECONDS": 60,
    # The shared WeChat access token is refreshed this long before it expires.
    "WECHAT_TOKEN_MARGIN_SECONDS": 300,
    # Non-urgent messages wait for the end of quiet hours (city time), and at most this many SMS per
    # recipient per window are sent (the rest are deferred, not dropped).
    "NOTIFY_QUIET_HOURS": "22:00-08:00",
    "NOTIFY_SMS_PER_RECIPIENT": 10,
    "NOTIFY_SMS_RATE_WINDOW_SECONDS": 3600,
    "NOTIFY_MAX_ATTEMPTS": 5,
    # Non-urgent messages published by one commit or sweep go to a worker in batches of at most this many.
    "NOTIFY_BATCH_SIZE": 50,
    "NOTIFY_RETRY_BASE_SECONDS": 1.0,
    # Older than this when its turn comes: failed, not sent late (urgent: sign-in codes).
    "NOTIFY_MAX_AGE_SECONDS": 24 * 3600,
    "NOTIFY_URGENT_MAX_AGE_SECONDS": 600,
    "NOTIFY_STUCK_SECONDS": 60,
    "NOTIFY_SWEEP_SECONDS": 30.0,
    # Urgent messages (sign-in codes) the broker never got are published again within seconds.
    "NOTIFY_URGENT_STUCK_SECONDS": 3,
    "NOTIFY_URGENT_SWEEP_SECONDS": 5.0,
}


def _configure(app: Flask) -> None:
    from notifications.channels import named_gateways

    register_settings(app.config, DEFAULTS)
    if isinstance(app.config["SMS_GATEWAYS"], str):  # from the environment (or an override) as text
        app.config["SMS_GATEWAYS"] = named_gateways(app.config["SMS_GATEWAYS"], app.config["SMS_GATEWAY_KEYS"])


def check_sms_providers(app: Flask) -> None:
    """Start-up check (run after every package registered its templates): each configured SMS provider
    has its settings and a template code + parameter mapping for every template that can go by SMS."""
    from notifications.channels import configured_vendors
    from notifications.sms_vendors import missing_settings
    from notifications.sms_vendors.templates import mapping_problems

    problems = []
    for vendor in configured_vendors():
        problems += [f"{vendor}: {name} is not set" for name in missing_settings(vendor)]
        problems += mapping_problems(vendor)
    if problems:
        raise ConfigError("SMS providers are not ready: " + "; ".join(problems))


def init_app(app: Flask) -> None:
    import notifications.messages
    import notifications.tasks  # noqa: F401  (workers must know the tasks)
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.extensions import api
    from mobile_api.queues import QueueNames
    from notifications.api import inbox_blp, sandbox_blp, staff_blp, webhook_blp
    from notifications.outbox import SEND_BATCH_TASK, SEND_TASK, SEND_URGENT_TASK, SWEEP_URGENT_TASK
    from notifications.outbox_metrics import outbox_metrics
    from notifications.personal_data import erase_messages, export_messages

    _configure(app)
    for blueprint in (inbox_blp, staff_blp, webhook_blp):
        api.register_blueprint(blueprint)
    if app.config["SANDBOX_MODE"]:
        api.register_blueprint(sandbox_blp)
    add_task_route(app, SEND_URGENT_TASK, QueueNames.URGENT)
    add_task_route(app, SEND_TASK, QueueNames.NOTIFY)
    add_task_route(app, SEND_BATCH_TASK, QueueNames.NOTIFY)
    add_beat_job(app, "sweep-stuck-notifications", "notifications.sweep_stuck", app.config["NOTIFY_SWEEP_SECONDS"])
    register_startup_check(app, check_sms_providers)
    register_scrape_collector(app, outbox_metrics)
    register_personal_data(app, "messages", export=export_messages, erase=erase_messages, order=80)
    add_task_route(app, SWEEP_URGENT_TASK, QueueNames.URGENT)
    add_beat_job(app, "sweep-urgent-notifications", SWEEP_URGENT_TASK, app.config["NOTIFY_URGENT_SWEEP_SECONDS"], queue=QueueNames.URGENT)
