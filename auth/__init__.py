"""Accounts, phone sign-in, JWT, real-name levels (L2 identity, L3 face in ``auth.face``)."""

from __future__ import annotations

from flask import Flask

DEFAULTS: dict[str, str | int | float | None] = {
    # SMS sign-in codes
    "SMS_CODE_TTL_SECONDS": 300,
    "SMS_CODE_RESEND_SECONDS": 60,
    "SMS_CODE_MAX_ATTEMPTS": 5,
    "SMS_CODE_DAILY_PER_PHONE": 10,
    "SMS_CODE_DAILY_PER_IP": "50 per day",  # Flask-Limiter string, read per request
    # Real name (L2): attempts per account (Flask-Limiter string) and the identity authority adapter
    "IDENTITY_ATTEMPTS_LIMIT": "10 per day",
    "IDENTITY_PROVIDER": "local",  # local | http
    "IDENTITY_AUTHORITY_URL": None,
    "IDENTITY_AUTHORITY_KEY": None,
    # Data export (PIPL art. 45): downloadable once within this many hours; builds per account per 24 h.
    "DATA_EXPORT_TTL_HOURS": 24,
    "DATA_EXPORT_DAILY_LIMIT": 3,
    # Staff passwords: wrong ones in a row before the account locks; the lock doubles per further failure
    "STAFF_LOCKOUT_THRESHOLD": 5,
    "STAFF_LOCKOUT_BASE_SECONDS": 60,
    "STAFF_LOCKOUT_MAX_SECONDS": 3600,
    # Redis's copy of the revocation list: how often recent revocations are copied again (auth/revocation.py)
    "REVOCATION_SYNC_SECONDS": 60.0,
}


def init_app(app: Flask) -> None:
    import auth.messages
    import auth.tasks  # workers must know the tasks
    from auth import face
    from auth.api import auth_blp, me_blp, staff_auth_blp
    from auth.cli import identity_cli, staff_cli
    from auth.data_rights import PURGE_TASK
    from auth.demo_data import seed_demo
    from auth.personal_data import erase_account, export_account
    from auth.tokens import is_revoked_token, load_principal
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.demo import register_demo_seeder
    from mobile_api.extensions import api, jwt
    from mobile_api.personal_data import register_personal_data
    from mobile_api.queues import QueueNames
    from mobile_api.settings import register_settings

    register_settings(app.config, DEFAULTS)
    jwt.user_lookup_loader(load_principal)
    jwt.token_in_blocklist_loader(is_revoked_token)
    for blueprint in (auth_blp, me_blp, staff_auth_blp):
        api.register_blueprint(blueprint)
    face.init_app(app)
    for group in (staff_cli, identity_cli):
        app.cli.add_command(group)
    register_demo_seeder(app, 30, seed_demo)
    add_task_route(app, "auth.*", QueueNames.DEFAULT)
    add_beat_job(app, "purge-data-exports", PURGE_TASK, 600.0)
    # Last of all providers: the others report what they had to keep before the account is anonymised.
    register_personal_data(app, "account", export=export_account, erase=erase_account, order=90)
    if app.config.get("REDIS_URL"):
        add_beat_job(app, "sync-revocations", auth.tasks.SYNC_REVOCATIONS_TASK, app.config["REVOCATION_SYNC_SECONDS"])
