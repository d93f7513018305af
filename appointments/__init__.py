"""Service halls, windows, opening rules, slots, bookings, check-in and queue numbers."""

from __future__ import annotations

from flask import Flask

from mobile_api.settings import register_settings

# The one place of defaults; read with mobile_api.settings.setting(NAME). An environment variable of the
# same name overrides the default, app config (tests) overrides both.
DEFAULTS: dict[str, int | float | str] = {
    # Slot release (放号): a day's places open at APPOINTMENTS_RELEASE_TIME on the working day that
    # lies this many working days before it (a hall may set its own of both).
    "APPOINTMENTS_BOOKABLE_WORKING_DAYS": 10,
    "APPOINTMENTS_RELEASE_TIME": "08:00",
    "APPOINTMENTS_MAX_ACTIVE": 3,
    "APPOINTMENTS_CANCEL_BEFORE_MINUTES": 120,
    "APPOINTMENTS_OFFER_HOLD_MINUTES": 15,
    # A cancelled place nobody waits for is held back this long before anyone may book it (0 = never).
    "APPOINTMENTS_RELEASE_DELAY_MINUTES": 30,
    "APPOINTMENTS_CHECKIN_EARLY_MINUTES": 30,
    "APPOINTMENTS_CHECKIN_LATE_MINUTES": 15,
    "APPOINTMENTS_NO_SHOW_LIMIT": 3,
    "APPOINTMENTS_NO_SHOW_WINDOW_DAYS": 90,
    "APPOINTMENTS_BAN_DAYS": 30,
    "APPOINTMENTS_AVERAGE_SERVICE_MINUTES": 10,
    "APPOINTMENTS_ELDERLY_AGE": 70,
    # Flask-Limiter strings: per citizen, per client address, and for availability look-ups.
    "APPOINTMENTS_BOOKING_LIMIT": "20 per hour",
    "APPOINTMENTS_BOOKING_IP_LIMIT": "120 per minute",
    "APPOINTMENTS_AVAILABILITY_LIMIT": "120 per minute",
    # The call display's live stream: how often it looks for news (one indexed query), how long one
    # stream holds a web worker thread before the browser reconnects, and the keep-alive interval.
    "APPOINTMENTS_DISPLAY_POLL_SECONDS": 0.5,
    "APPOINTMENTS_DISPLAY_STREAM_SECONDS": 300,
    "APPOINTMENTS_DISPLAY_HEARTBEAT_SECONDS": 15,
}


def init_app(app: Flask) -> None:
    import appointments.messages
    import appointments.tasks  # noqa: F401  (workers must know the tasks)
    from appointments.admin_api import hall_admin_blp
    from appointments.api import appointments_blp, halls_blp, staff_queue_blp, waitlist_blp
    from appointments.demo_data import seed_demo
    from appointments.personal_data import erase_appointments, export_appointments
    from appointments.plan_cache import watch_plan_changes
    from mobile_api.celery_app import add_beat_job, add_task_route
    from mobile_api.demo import register_demo_seeder
    from mobile_api.extensions import api
    from mobile_api.personal_data import register_personal_data
    from mobile_api.queues import QueueNames

    register_settings(app.config, DEFAULTS)
    watch_plan_changes()
    register_demo_seeder(app, 10, seed_demo)
    register_personal_data(app, "appointments", export=export_appointments, erase=erase_appointments, order=30)
    from appointments.pages import pages_bp

    for blueprint in (halls_blp, appointments_blp, waitlist_blp, staff_queue_blp, hall_admin_blp):
        api.register_blueprint(blueprint)
    # The call display and the clerk's window page are HTML for screens and browsers, not JSON API:
    # a plain Flask blueprint, so they stay out of the OpenAPI document on purpose.
    app.register_blueprint(pages_bp)
    add_task_route(app, "appointments.*", QueueNames.DEFAULT)
    add_beat_job(app, "appointment-reminders", "appointments.send_reminders", 60.0, queue=QueueNames.DEFAULT)
    add_beat_job(app, "appointment-offer-expiry", "appointments.expire_offers", 30.0, queue=QueueNames.DEFAULT)
    add_beat_job(app, "appointment-no-shows", "appointments.mark_no_shows", 900.0, queue=QueueNames.DEFAULT)
    add_beat_job(app, "queue-events-purge", "appointments.purge_queue_events", 3600.0, queue=QueueNames.DEFAULT)
