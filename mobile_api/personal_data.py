"""Personal data providers: each package says what it holds about a citizen, and how to erase it.

PIPL arts. 45 and 47: a citizen may have a copy of their data and have it deleted (where no law requires
it kept). No single package can know everything — express holds addresses, hotline tickets, cases the
applications — and the platform and auth must not import the packages above them. So each package
registers a provider from its ``init_app``::

    register_personal_data(app, "appointments", export=export_bookings, erase=erase_bookings, order=30)

- ``export(subject) -> dict | list``: everything the package holds about the subject, as JSON-ready data
  (the subject's own data unmasked; anything about other people masked or left out);
- ``erase(subject, context) -> dict``: erase what may be erased and unlink what must be kept, writing in the
  caller's transaction (the closure is one unit of work); it returns a summary (``{"erased": {...},
  "kept": {...}}``) and adds to ``context["retained_records"]`` how many records it had to keep, so
  ``auth`` (erasing last) knows whether the kept records still need the holder's real name.

Providers run in ``order`` (lower first: the packages above erase before those below them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

_KEY = "personal_data_providers"


@dataclass(frozen=True)
class Subject:
    """Whose data: the account and the phone it was reached at (messages sent before the account existed)."""

    account_id: str
    phone: str | None


@dataclass(frozen=True)
class PersonalDataProvider:
    name: str
    export: Callable[[Subject], Any]
    erase: Callable[[Subject, dict], dict]
    order: int


def register_personal_data(
    app: Flask, name: str, *, export: Callable[[Subject], Any], erase: Callable[[Subject, dict], dict], order: int = 50
) -> None:
    providers = app.extensions.setdefault(_KEY, {})
    if name in providers:
        raise ValueError(f"personal data provider {name!r} registered twice")
    providers[name] = PersonalDataProvider(name, export, erase, order)


def providers() -> list[PersonalDataProvider]:
    return sorted(current_app.extensions.get(_KEY, {}).values(), key=lambda provider: (provider.order, provider.name))


def export_all(subject: Subject) -> dict[str, Any]:
    """Every provider's part, by provider name, in provider order."""
    return {provider.name: provider.export(subject) for provider in providers()}


def erase_all(subject: Subject) -> dict[str, dict]:
    """Every provider's erasure, in order, in the caller's transaction; their summaries by name."""
    context: dict = {"retained_records": 0}
    return {provider.name: provider.erase(subject, context) for provider in providers()}
