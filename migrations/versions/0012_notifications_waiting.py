"""index of the messages waiting for a first try (notifications.batch tops batches up from it)

Revision ID: 0012_notifications_waiting
Revises: 0011_plan_version
Create Date: 2026-11-24 07:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_notifications_waiting"
down_revision = "0011_plan_version"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'queued'")


def upgrade() -> None:
    # Partial: the outbox keeps every message ever sent, while only a backlog's worth is queued; a batch
    # reads the oldest of those without scanning or sorting the history.
    op.create_index("ix_notifications_queued_created_at", "notifications", ["created_at"], postgresql_where=WAITING, sqlite_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_notifications_queued_created_at", table_name="notifications", postgresql_where=WAITING, sqlite_where=WAITING)
