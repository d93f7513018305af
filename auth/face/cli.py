"""``flask identity import-photo ID_NUMBER FILE``: fill the local reference-photo register."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from auth.face.reference import import_reference_photo
from mobile_api.errors import Problem


@click.command("import-photo")
@with_appcontext
@click.argument("id_number")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_photo(id_number: str, photo: Path) -> None:
    """Store the reference photo (JPEG/PNG/WebP) for an ID number, encrypted."""
    try:
        result = import_reference_photo(id_number, photo.read_bytes(), "cli", "cli")
    except Problem as exc:
        raise click.ClickException(f"{exc.code}: {exc.title}") from None
    click.echo(f"reference photo saved for {result['id_number_masked']} ({result['width']}x{result['height']})")
