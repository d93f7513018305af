"""Start-up checks: what can only be checked once every package has registered itself.

A package registers a check from its ``init_app`` (e.g. notifications: every SMS template has a template
code at each configured provider, which needs the templates of the packages above it); ``create_app()``
runs them all at its end, inside an app context, and a check raises ``ConfigError`` to refuse the start.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

_KEY = "startup_checks"


def register_startup_check(app: Flask, check: Callable[[Flask], None]) -> None:
    app.extensions.setdefault(_KEY, []).append(check)


def run_startup_checks(app: Flask) -> None:
    with app.app_context():
        for check in app.extensions.get(_KEY, []):
            check(app)
