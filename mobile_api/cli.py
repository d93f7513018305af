"""Platform CLI commands: ``flask seed-demo`` and ``flask calendar``. Domains add their own groups."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from mobile_api.demo import seed_demo_data
from mobile_api.workdays import seed_from_chinesecalendar

calendar_cli = AppGroup("calendar", help="The working-day calendar.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load the demo data every package registered (idempotent)."""
    if not current_app.config["LOAD_DEMO_DATA"]:
        raise click.ClickException("Demo data is disabled (production mode or LOAD_DEMO_DATA=0).")
    for summary in seed_demo_data(current_app._get_current_object()):  # type: ignore[attr-defined]
        click.echo(summary)


@calendar_cli.command("sync")
def calendar_sync() -> None:
    """Seed holidays and 调休 days from chinesecalendar (never overwrites admin edits)."""
    click.echo(f"calendar: {seed_from_chinesecalendar()} days added")


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(calendar_cli)
