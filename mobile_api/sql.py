"""Dialect-aware statements that PostgreSQL and SQLite both support but spell through SQLAlchemy apart."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

from mobile_api.extensions import db


def insert_ignoring_conflict(model, **values) -> int:
    """``INSERT … ON CONFLICT DO NOTHING``; returns 1 when a row was inserted, 0 when it existed.

    Counted through ``RETURNING``: with psycopg 3 the cursor's rowcount for this statement is -1.
    The values go as parameters to one statement per table and dialect (built once): coercing them into
    the statement with ``.values()`` cost more than the round trip (profiled on ``notify()``).
    """
    dialect = db.session.get_bind().dialect.name
    return len(db.session.execute(_insert_ignoring_conflict(model.__table__, dialect), values).all())


@cache
def _insert_ignoring_conflict(table: Table, dialect: str) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
