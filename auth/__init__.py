"""Accounts, phone sign-in, JWT, real-name levels (L2 identity, L3 face)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from auth import face_messages, face_tasks  # noqa: F401 - templates and tasks register on import
    from auth.api import auth_blp, me_blp, staff_auth_blp
    from auth.cli import identity_cli, staff_cli
    from auth.demo_data import seed_demo
    from auth.face_api import face_blp, staff_face_blp
    from auth.face_cli import import_photo
    from auth.face_service import configure
    from auth.tokens import is_revoked_token, load_principal
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.demo import register_demo_seeder
    from mobile_api.extensions import api, jwt
    from mobile_api.face_check import check_face_recognition_importable
    from mobile_api.queues import QueueNames

    check_face_recognition_importable(app)
    configure(app.config)
    jwt.user_lookup_loader(load_principal)
    jwt.token_in_blocklist_loader(is_revoked_token)
    for blueprint in (auth_blp, me_blp, staff_auth_blp, face_blp, staff_face_blp):
        api.register_blueprint(blueprint)
    if "import-photo" not in identity_cli.commands:
        identity_cli.add_command(import_photo)
    for group in (staff_cli, identity_cli):
        app.cli.add_command(group)
    register_demo_seeder(app, 30, seed_demo)
    add_task_route(app, "face.*", QueueNames.FACE)
    add_beat_job(app, "face-purge-stale", "face.purge_stale", 60, queue=QueueNames.FACE)
