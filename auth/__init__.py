"""Accounts, phone sign-in, JWT, roles, real-name levels (L2 identity, L3 face)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from auth import face_messages, face_tasks  # noqa: F401 - templates and tasks register on import
    from auth.api import auth_blp, me_blp, staff_auth_blp
    from auth.face_api import face_blp, staff_face_blp
    from auth.face_cli import import_photo
    from auth.face_service import configure
    from mobile_api.celery_app import add_beat_job
    from mobile_api.cli import identity_cli
    from mobile_api.extensions import api

    configure(app.config)
    for blueprint in (auth_blp, me_blp, staff_auth_blp, face_blp, staff_face_blp):
        api.register_blueprint(blueprint)
    if "import-photo" not in identity_cli.commands:
        identity_cli.add_command(import_photo)
    add_beat_job(app, "face-purge-stale", "face.purge_stale", 60, queue="face")
