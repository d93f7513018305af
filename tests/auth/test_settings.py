"""auth's settings (auth.DEFAULTS, auth.face.DEFAULTS) and what ``auth.init_app`` wires into the app."""

from __future__ import annotations

from mobile_api.queues import QueueNames


def test_settings_come_from_the_environment_with_the_same_names_and_defaults(monkeypatch):
    from mobile_api import create_app

    for name in ("IDENTITY_AUTHORITY_URL", "IDENTITY_AUTHORITY_KEY", "SMS_CODE_DAILY_PER_PHONE", "SMS_CODE_DAILY_PER_IP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_PROVIDER", "http")
    monkeypatch.setenv("IDENTITY_AUTHORITY_URL", "https://authority.example/api")
    monkeypatch.setenv("SMS_CODE_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("IDENTITY_ATTEMPTS_LIMIT", "4 per hour")
    monkeypatch.setenv("FACE_MATCH_THRESHOLD", "0.45")
    monkeypatch.setenv("FACE_DAILY_FAILURES", "7")
    config = create_app({"TESTING": True}).config
    assert (config["IDENTITY_PROVIDER"], config["IDENTITY_AUTHORITY_URL"]) == ("http", "https://authority.example/api")
    assert config["IDENTITY_AUTHORITY_KEY"] is None  # optional: no default, and none in the environment
    assert (config["SMS_CODE_MAX_ATTEMPTS"], config["IDENTITY_ATTEMPTS_LIMIT"]) == (3, "4 per hour")
    assert (config["FACE_MATCH_THRESHOLD"], config["FACE_DAILY_FAILURES"]) == (0.45, 7)
    # Untouched settings keep their documented defaults.
    assert (config["SMS_CODE_TTL_SECONDS"], config["SMS_CODE_RESEND_SECONDS"], config["SMS_CODE_DAILY_PER_PHONE"]) == (300, 60, 10)
    assert config["SMS_CODE_DAILY_PER_IP"] == "50 per day" and config["FACE_MAX_WAIT_SECONDS"] == 5


def test_explicit_app_config_wins_over_the_environment(monkeypatch):
    from mobile_api import create_app

    monkeypatch.setenv("SMS_CODE_TTL_SECONDS", "120")
    monkeypatch.setenv("FACE_CONSENT_VERSION", "from-env")
    config = create_app({"TESTING": True, "SMS_CODE_TTL_SECONDS": 600, "FACE_CONSENT_VERSION": "2030-01"}).config
    assert (config["SMS_CODE_TTL_SECONDS"], config["FACE_CONSENT_VERSION"]) == (600, "2030-01")


def test_face_tasks_are_routed_to_the_face_queue_and_purged_by_beat(app):
    from mobile_api.celery_app import celery

    assert app.extensions["task_routes"]["face.*"] == {"queue": QueueNames.FACE}
    job = app.extensions["beat_schedule"]["face-purge-stale"]
    assert (job["task"], job["options"]["queue"]) == ("face.purge_stale", QueueNames.FACE)
    assert {"face.verify", "face.purge_stale"} <= set(celery.tasks)
    # Queued by name (auth.face.dispatch), the decision still lands on the face queue.
    assert celery.amqp.router.route({}, "face.verify")["queue"].name == QueueNames.FACE
    assert "import-photo" in app.cli.commands["identity"].commands
