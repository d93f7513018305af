"""``flask staff …`` and ``flask identity …``: staff users and the local identity registry."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from auth import service

staff_cli = AppGroup("staff", help="Staff users.")
identity_cli = AppGroup("identity", help="The local identity registry.")


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--department", "departments", multiple=True)
@click.option("--hall", "halls", multiple=True, type=int)
@click.option("--name", "display_name")
@click.password_option()
def create_staff(username: str, roles: tuple, departments: tuple, halls: tuple, display_name: str | None, password: str) -> None:
    """Create or update a staff user."""
    try:
        staff = service.create_staff(username, password, list(roles), display_name, list(departments), list(halls))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff user {staff.username} ({', '.join(staff.roles)})")


@identity_cli.command("import-residents")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_residents(csv_path: Path) -> None:
    """Import ``name,id_number`` rows into the local identity registry."""
    imported, problems = service.import_residents_csv(csv_path)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{imported} residents imported, {len(problems)} rows refused")


@identity_cli.command("add-resident")
@click.argument("name")
@click.argument("id_number")
def add_resident(name: str, id_number: str) -> None:
    try:
        service.add_resident(name, id_number, "cli")
    except ValidationError as exc:
        raise click.ClickException(str(exc.messages)) from None
    click.echo("resident saved")
