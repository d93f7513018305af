"""12345 hotline: operator look-ups of a caller's cases, bookings, deliveries and tickets (audited, with
caller verification), hotline tickets (工单) routed to departments with working-day deadlines and
escalation (督办), citizens' own tickets, supervisors' figures, and an Open311 GeoReport v2 face.

Rooms: ``models.py``, ``schemas.py`` (+ ``staff_schemas.py``), ``service.py`` (ticket verbs of
operators), ``api.py`` (operators), ``staff_api.py`` (departments, supervisors, admins),
``citizen_api.py`` (``/api/v1/me/tickets``), ``tasks.py``; concerns: ``records.py`` (what the packages
below know about a caller), ``lookup.py`` + ``verification.py`` (look-ups), ``tickets.py`` (the ticket
state machine and views), ``departments.py`` and ``citizens.py`` (their side of tickets),
``escalation.py`` (colours, warnings, 督办), ``oversight.py`` (audit reads, operator flags),
``notices.py`` (one-time notices by SMS), ``stats.py``, ``masking.py``, ``messages.py``, ``cli.py``,
``demo_data.py``, ``open311/`` (GeoReport v2).
"""

from __future__ import annotations

from flask import Flask

from mobile_api.settings import register_settings

DEFAULTS = {
    "HOTLINE_TICKET_PREFIX": "RX",
    # Response deadline of the department, in working days after the day the ticket is routed (转办).
    "HOTLINE_DAYS_CONSULTATION": 3,
    "HOTLINE_DAYS_HELP": 5,
    "HOTLINE_DAYS_COMPLAINT": 13,
    "HOTLINE_DAYS_REPORT": 15,
    "HOTLINE_DAYS_SUGGESTION": 10,
    "HOTLINE_DAYS_PRAISE": 5,
    "HOTLINE_YELLOW_DAYS": 1,  # yellow at this many working days left or fewer; red (督办) when overdue
    "HOTLINE_SCAN_SECONDS": 300,
    # Look-ups and caller verification
    "HOTLINE_LOOKUP_TTL_SECONDS": 1800,
    "HOTLINE_LOOKUP_LIMIT": "120 per hour",  # per operator
    "HOTLINE_LOOKUP_LIMIT_FLAGGED": "20 per hour",  # per operator while a flag awaits review
    "HOTLINE_FLAG_MIN_LOOKUPS": 20,
    "HOTLINE_FLAG_RATIO": 3.0,  # flag when look-ups > ratio × calls on one city day
    "HOTLINE_VERIFY_MAX_ATTEMPTS": 3,  # wrong answers per look-up
    "HOTLINE_VERIFY_DAILY_FAILURES": 6,  # wrong answers per account per city day, all operators
    "HOTLINE_CODE_TTL_SECONDS": 300,
    "HOTLINE_CODE_RESEND_SECONDS": 60,
    "HOTLINE_CODE_MAX_SENDS": 3,  # per look-up
    "HOTLINE_NOTICES_PER_PHONE": 3,  # one-time notices per phone per city day
    # Open311 GeoReport v2
    "HOTLINE_OPEN311_JURISDICTION": "ningbo.gov.cn",
    "HOTLINE_OPEN311_CONTACT": "宁波市12345政务服务热线，电话12345，邮箱open311@ningbo.gov.cn",
    "HOTLINE_OPEN311_KEY_SERVICE": "第三方应用请向市政务服务办公室申请 api_key（管理员在 /api/v1/staff/open311/keys 签发）",
    "HOTLINE_OPEN311_KEY_LIMIT": "60 per minute",  # per api_key, POST requests.json (a key's own limit overrides)
    "HOTLINE_OPEN311_READ_LIMIT": "300 per minute",  # per client address, public GETs
    "HOTLINE_OPEN311_MAX_DAYS": 90,
    "HOTLINE_OPEN311_MAX_RESULTS": 1000,
    "HOTLINE_OPEN311_SWEEP_SECONDS": 60,
    "HOTLINE_OPEN311_MAX_BODY": 64 * 1024,
}


def init_app(app: Flask) -> None:
    import hotline.messages
    import hotline.tasks  # noqa: F401  (workers must know the tasks)
    from hotline.api import hotline_blp
    from hotline.citizen_api import my_tickets_blp
    from hotline.cli import hotline_cli
    from hotline.demo_data import seed_demo
    from hotline.open311.api import register_open311
    from hotline.service import subscribe_to_cases
    from hotline.staff_api import staff_hotline_blp
    from mobile_api.celery_app import add_beat_job
    from mobile_api.demo import register_demo_seeder
    from mobile_api.extensions import api

    register_settings(app.config, DEFAULTS)
    for blueprint in (hotline_blp, staff_hotline_blp, my_tickets_blp):
        api.register_blueprint(blueprint)
    register_open311(app)
    subscribe_to_cases()
    app.cli.add_command(hotline_cli)
    register_demo_seeder(app, 60, seed_demo)
    add_beat_job(app, "hotline-scan-deadlines", "hotline.scan_deadlines", float(app.config["HOTLINE_SCAN_SECONDS"]))
    add_beat_job(app, "hotline-open311-sweep", "hotline.sweep_open311_submissions", float(app.config["HOTLINE_OPEN311_SWEEP_SECONDS"]))
