"""Dialect-aware statements that PostgreSQL and SQLite both support but spell through SQLAlchemy apart."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from mobile_api.extensions import db


def insert_ignoring_conflict(model, **values) -> int:
    """``INSERT … ON CONFLICT DO NOTHING``; returns 1 when a row was inserted, 0 when it existed."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.session.execute(insert(model).values(**values).on_conflict_do_nothing()).rowcount
