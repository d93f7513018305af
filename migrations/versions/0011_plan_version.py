"""the availability plan's version counter (appointments.plan_cache)

Revision ID: 0011_plan_version
Revises: 0010_hall_admin
Create Date: 2026-11-24 00:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_plan_version"
down_revision = "0010_hall_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "appointment_plan_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("appointment_plan_version")
