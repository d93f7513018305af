"""Face verification (real-name level 3, "实人+实名"): a live face matched against the ID's reference photo.

The web process never decodes pixels; the decision runs on the ``face`` queue. Where things are:

- ``models``       tables and the names of their states (``VerificationStatus``, ``ChallengeMode`` …)
- ``schemas``      request/response schemas
- ``service``      web side: consent, challenges, submitting frames, reading a verification
- ``verification`` worker side: ``run_verification`` and the decision, the stale-attempt purge
- ``api``          the citizen's and the admin's endpoints; ``tasks`` the Celery tasks; ``cli``
- concerns: ``images`` (decode, inspect, quality, encodings), ``liveness`` (replay, freshness, head
  turn), ``reference`` (the reference-photo register and the authority's adapter), ``store`` (where
  uploads wait for the worker), ``attempts`` (the daily limit), ``dispatch`` (queueing and the
  "decided" signal), ``messages`` (what citizens read), ``startup`` (the face_recognition check)
"""

from __future__ import annotations

from flask import Flask

DEFAULTS: dict[str, str | int | float] = {
    "FACE_CONSENT_VERSION": "2026-11",
    # 1:1 identity threshold (face_recognition's own 0.6 is for 1:N clustering). Fixtures: same person
    # 0.03–0.42, different people 0.70–0.90 (bench/face_accuracy.py). 0.5 keeps a 0.08 margin above
    # the worst genuine pair and 0.2 below the closest impostor; 0.6 would halve the impostor margin.
    "FACE_MATCH_THRESHOLD": 0.5,
    "FACE_CHALLENGE_SECONDS": 180,
    "FACE_BLOB_TTL_SECONDS": 300,
    "FACE_MAX_IMAGE_BYTES": 8 * 1024 * 1024,
    "FACE_MAX_PIXELS": 16_000_000,  # a 12 Mpx front camera passes; a decompression bomb is refused from its header
    "FACE_MAX_FRAMES": 5,
    "FACE_DAILY_FAILURES": 5,
    "FACE_MIN_FACE_PX": 80,
    "FACE_MIN_CARD_FACE_PX": 40,
    "FACE_MIN_BRIGHTNESS": 50.0,
    "FACE_MIN_SHARPNESS": 12.0,
    "FACE_MIN_YAW_CHANGE": 0.2,
    "FACE_REPLAY_MAX_BITS": 4,  # pHash bits apart that still count as the same picture
    "FACE_CLOCK_SKEW_SECONDS": 120,
    "FACE_MAX_DELIVERIES": 2,  # a frame that kills the worker twice is refused, not retried forever
    "FACE_MAX_WAIT_SECONDS": 5,
}


def init_app(app: Flask) -> None:
    """Check face_recognition can load, then register settings, endpoints, tasks, the purge job and the CLI."""
    from auth.cli import identity_cli
    from auth.face import messages, tasks  # noqa: F401 - templates and tasks register on import
    from auth.face.api import face_blp, staff_face_blp
    from auth.face.cli import import_photo
    from auth.face.dispatch import PURGE_TASK
    from auth.face.personal_data import erase_face, export_face
    from auth.face.startup import check_face_recognition_importable
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.extensions import api
    from mobile_api.personal_data import register_personal_data
    from mobile_api.queues import QueueNames
    from mobile_api.settings import register_settings

    check_face_recognition_importable(app)
    register_settings(app.config, DEFAULTS)
    for blueprint in (face_blp, staff_face_blp):
        api.register_blueprint(blueprint)
    if "import-photo" not in identity_cli.commands:  # the group is module-level; create_app may run twice
        identity_cli.add_command(import_photo)
    add_task_route(app, "face.*", QueueNames.FACE)
    add_beat_job(app, "face-purge-stale", PURGE_TASK, 60, queue=QueueNames.FACE)
    register_personal_data(app, "face", export=export_face, erase=erase_face, order=85)
