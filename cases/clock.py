"""The city's "today" for case deadlines, with a sandbox-only time machine.

Every deadline is counted in working days from a city date. Production always uses the real date.
In sandbox mode (development, tests, demos) ``SANDBOX_TODAY`` in the app config can pin the date, so
a journey across National Day or into 2027 can be walked through over HTTP on any day of the year.
"""

from __future__ import annotations

from datetime import date

from flask import current_app, has_app_context

from mobile_api.timeutil import city_today


def today() -> date:
    if has_app_context() and current_app.config.get("SANDBOX_MODE") and not current_app.config.get("PRODUCTION"):
        pinned = current_app.config.get("SANDBOX_TODAY")
        if pinned:
            return date.fromisoformat(pinned) if isinstance(pinned, str) else pinned
    return city_today()
