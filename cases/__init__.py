"""Service catalog (事项), applications, pre-review, case lifecycle, deadlines, certificates, ratings.

Rooms: ``models.py`` (tables, ``CaseStatus`` and its named groups), ``schemas.py``, ``api.py``,
``tasks.py``, and the verbs: ``catalog.py`` (items, versions), ``service.py`` (the citizen's side:
apply, upload, submit, rate), ``staff.py`` (staff lists, audited reads, transitions, rectifications),
``supervision.py`` (colours, warnings, stats). Concerns they share: ``lifecycle.py`` (which action
moves which status, for which roles), ``transitions.py`` (what each action does to a case),
``timeline.py`` (claim a case, add an event, notify the citizen), ``presentation.py`` (summaries, the
case detail, status names), ``forms.py`` (the application form), ``deadlines.py`` (working-day
arithmetic), ``uploads.py`` + ``storage.py`` (checked files, their bytes), ``read_model.py`` (the
stored citizen view), ``events.py`` (signals for the packages above), ``messages.py`` (SMS
templates), ``clock.py`` (today), ``demo_data.py``.

Lifecycle: draft → prereview_pending → (prereview_returned → resubmitted)* → prereview_passed →
accepted → in_progress (parallel tasks) ⇄ suspended → approved | rejected → certificate_issued →
delivered | collected → closed. Other packages link to a citizen's case through
``cases.service.case_for_citizen(account_id, case_no)``.
"""

from flask import Flask

from mobile_api.settings import register_settings

DEFAULTS = {
    "CASES_NO_PREFIX": "NB",
    "CASES_PREREVIEW_DAYS": 1,  # pre-review deadline, working days
    "CASES_YELLOW_DAYS": 2,  # supervision: yellow at this many working days left or fewer
    "CASES_RECTIFY_DAYS": 15,  # a bad rating's rectification deadline, working days
    "CASES_SCAN_SECONDS": 300,
    "CASES_MAX_IMAGE_BYTES": 10 * 1024 * 1024,
    "CASES_MAX_PDF_BYTES": 15 * 1024 * 1024,
    # What a citizen's photo of a paper needs: a 12 Mpx phone photo (4000×3000) passes, a 6300×6300
    # decompression bomb is refused from its header before any pixel is decoded.
    "CASES_MAX_IMAGE_PIXELS": 16_000_000,
    # Stored images are at most this long on their long side (JPEG decodes at a reduced scale).
    "CASES_IMAGE_MAX_SIDE": 3000,
    # Images decoded at once per web process: what one process can hold in decoded pixels is bounded
    # (up to about 160 MB while one 16 Mpx image is decoded and normalised); a request waits up to
    # CASES_IMAGE_DECODE_WAIT_SECONDS, then 503.
    "CASES_IMAGE_DECODES_PER_PROCESS": 1,
    "CASES_IMAGE_DECODE_WAIT_SECONDS": 20.0,
    # Pillow keeps this many freed 16 MB pixel blocks for reuse: without it each of gunicorn's threads
    # grows its own malloc arena by a decode's worth of blocks, and the process keeps them all.
    "CASES_IMAGE_BLOCKS_CACHED": 12,
    "CASES_MAX_PDF_PAGES": 50,
    "CASES_MIN_IMAGE_SIZE": (300, 400),  # shorter side, longer side, in pixels
    # A case's view carries its newest events; the whole timeline pages at /cases/<no>/timeline.
    "CASES_TIMELINE_IN_DETAIL": 20,
}


def init_app(app: Flask) -> None:
    import cases.messages
    import cases.tasks  # noqa: F401  (workers must know the tasks)
    from cases.api import BLUEPRINTS
    from cases.demo_data import seed_demo
    from cases.personal_data import erase_cases, export_cases
    from cases.uploads import bound_pillow_memory
    from mobile_api.celery_app import add_beat_job
    from mobile_api.demo import register_demo_seeder
    from mobile_api.extensions import api
    from mobile_api.personal_data import register_personal_data
    from mobile_api.queues import QueueNames

    register_settings(app.config, DEFAULTS)
    bound_pillow_memory(app.config["CASES_IMAGE_BLOCKS_CACHED"])
    register_demo_seeder(app, 20, seed_demo)
    register_personal_data(app, "cases", export=export_cases, erase=erase_cases, order=40)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    add_beat_job(app, "scan-case-deadlines", "cases.scan_deadlines", float(app.config["CASES_SCAN_SECONDS"]), QueueNames.DEFAULT)
