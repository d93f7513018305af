"""``flask hotline …``: the deadline scan by hand, and Open311 keys from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hotline import escalation
from hotline.open311 import keys
from mobile_api.transactions import transaction

hotline_cli = AppGroup("hotline", help="The 12345 hotline.")


@hotline_cli.command("scan")
def scan() -> None:
    """Recolour tickets and escalate overdue ones now (the beat job does this every few minutes)."""
    click.echo(escalation.scan_deadlines())


@hotline_cli.command("issue-key")
@click.argument("name")
@click.option("--rate-limit", default=None, help='e.g. "30 per minute"')
def issue_key(name: str, rate_limit: str | None) -> None:
    """Issue an Open311 api_key for a third-party app (printed once; only its hash is stored)."""
    with transaction():
        key, api_key = keys.create_key(name, "cli", rate_limit)
    click.echo(f"{api_key}  (id {key.id}, {name})")
