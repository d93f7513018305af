"""Flask CLI commands: demo data, calendar, staff users, identity registry imports."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from marshmallow import ValidationError

staff_cli = AppGroup("staff", help="Staff users.")
identity_cli = AppGroup("identity", help="The local identity registry.")
calendar_cli = AppGroup("calendar", help="The working-day calendar.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load demo departments, halls, service items, residents and staff (idempotent)."""
    from appointments.demo_data import seed_halls  # noqa: PLC0415
    from auth.demo_data import seed_identity_and_staff  # noqa: PLC0415
    from cases.demo_data import seed_catalog  # noqa: PLC0415

    if not current_app.config["LOAD_DEMO_DATA"]:
        raise click.ClickException("Demo data is disabled (production mode or LOAD_DEMO_DATA=0).")
    hall_ids = seed_halls()
    added = seed_catalog(hall_ids)
    seed_identity_and_staff(current_app.config["DEMO_PASSWORD"], hall_ids)
    click.echo(f"demo data ready: {len(hall_ids)} halls, {added} new service items, staff users and residents")


@calendar_cli.command("sync")
def calendar_sync() -> None:
    """Seed holidays and 调休 days from chinesecalendar (never overwrites admin edits)."""
    from mobile_api.workdays import seed_from_chinesecalendar  # noqa: PLC0415

    click.echo(f"calendar: {seed_from_chinesecalendar()} days added")


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--department", "departments", multiple=True)
@click.option("--hall", "halls", multiple=True, type=int)
@click.option("--name", "display_name")
@click.password_option()
def create_staff(username: str, roles: tuple, departments: tuple, halls: tuple, display_name: str | None, password: str) -> None:
    """Create or update a staff user."""
    from auth.service import create_staff as create  # noqa: PLC0415

    try:
        staff = create(username, password, list(roles), display_name, list(departments), list(halls))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff user {staff.username} ({', '.join(staff.roles)})")


@identity_cli.command("import-residents")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_residents(csv_path: Path) -> None:
    """Import ``name,id_number`` rows into the local identity registry."""
    from auth.service import import_residents_csv  # noqa: PLC0415

    imported, problems = import_residents_csv(csv_path)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{imported} residents imported, {len(problems)} rows refused")


@identity_cli.command("add-resident")
@click.argument("name")
@click.argument("id_number")
def add_resident(name: str, id_number: str) -> None:
    from auth.service import add_resident as add  # noqa: PLC0415

    try:
        add(name, id_number, "cli")
    except ValidationError as exc:
        raise click.ClickException(str(exc.messages)) from None
    click.echo("resident saved")


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    for group in (staff_cli, identity_cli, calendar_cli):
        app.cli.add_command(group)
