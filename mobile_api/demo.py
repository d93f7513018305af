"""Demo data for the embedded default: each domain registers its seeder from its ``init_app``.

Seeders run in ``order`` and share one ``context`` dict (the demo password, and what earlier seeders
made, e.g. ``hall_ids``), so the platform never imports a domain to seed it. Every seeder is
idempotent: ``flask seed-demo`` may run at every start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

Seeder = Callable[[dict[str, Any]], str]
_KEY = "demo_seeders"


def register_demo_seeder(app: Flask, order: int, seeder: Seeder) -> None:
    """Add a seeder; it returns a one-line summary of what it loaded."""
    app.extensions.setdefault(_KEY, []).append((order, seeder))


def seed_demo_data(app: Flask) -> list[str]:
    """Run every registered seeder in order (inside an app context); returns their summaries."""
    context: dict[str, Any] = {"password": app.config["DEMO_PASSWORD"]}
    seeders = sorted(app.extensions.get(_KEY, []), key=lambda pair: pair[0])
    return [seeder(context) for _order, seeder in seeders]
