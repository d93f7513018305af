"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mobile_api.extensions import db


def test_models_and_migrations_agree(app_context):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    # kombu's broker tables may share the database (SQL transport on the same URL): not ours.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("kombu_"))]
    assert diff == [], diff
