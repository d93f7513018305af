"""Dialect-aware statements that PostgreSQL and SQLite both support but spell through SQLAlchemy apart."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from mobile_api.extensions import db


def insert_ignoring_conflict(model, **values) -> int:
    """``INSERT … ON CONFLICT DO NOTHING``; returns 1 when a row was inserted, 0 when it existed.

    Counted through ``RETURNING``: with psycopg 3 the cursor's rowcount for this statement is -1.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = list(model.__table__.primary_key.columns)[0]
    return len(db.session.execute(insert(model).values(**values).on_conflict_do_nothing().returning(key)).all())
