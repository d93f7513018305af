"""Platform CLI commands: ``flask seed-demo``, ``flask calendar`` and ``flask pii``. Domains add their own groups."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from mobile_api.demo import seed_demo_data
from mobile_api.workdays import seed_from_chinesecalendar

calendar_cli = AppGroup("calendar", help="The working-day calendar.")
pii_cli = AppGroup("pii", help="Personal-data keys: rows per key, and rotation to the newest key.")


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


@pii_cli.command("status")
def pii_status() -> None:
    """How many values of each encrypted / blind-index column use each key."""
    from mobile_api.key_rotation import UNKNOWN, status

    lost = 0
    for line in status():
        counts = "  ".join(f"{kid}={count}" for kid, count in line["by_key"].items() if count or kid != UNKNOWN)
        click.echo(f"{line['column']:<40} {line['kind']:<9} total={line['total']:<8} {counts}")
        lost += line["by_key"][UNKNOWN]
    if lost:
        click.echo(f"WARNING: {lost} values use a key that is not configured any more: put it back before they are needed.", err=True)


@pii_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
@click.option("--pause", default=0.0, show_default=True, help="Seconds to wait between batches (spare a busy database).")
@click.option("--verbose", is_flag=True, help="Print every batch.")
def pii_rotate(batch_size: int, pause: float, verbose: bool) -> None:
    """Re-encrypt and re-index every value not yet under the newest key (online, resumable)."""
    from mobile_api.key_rotation import rotate

    report = rotate(batch_size=batch_size, pause=pause, progress=click.echo if verbose else None)
    click.echo(
        f"rewritten {report.rewritten} rows; {report.changed_concurrently} changed meanwhile (already current); "
        f"{report.sources_filled} index sources filled in"
    )
    for item in report.unresolved:
        click.echo(f"cannot re-index (no source value): {item}", err=True)


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(pii_cli)
