"""keys and data rights: key-id-sized blind indexes, reference photos keep their number, account closure, data exports

Revision ID: 0009_keys_and_data_rights
Revises: 0003_face
Create Date: 2026-11-23 21:00:00

Blind-index columns grow from 64 to 100 characters for their "<key id>:" prefix (mobile_api/pii.py);
reference_photos keeps the ID number it indexes (encrypted) so it can be re-indexed under a new key;
accounts get closed_at and a phone that a closed account no longer holds; data_exports holds the
citizen's data export for one download.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_keys_and_data_rights'
down_revision = '0003_face'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.String(length=11), nullable=True)
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=64), type_=sa.String(length=100), existing_nullable=True)
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=64), type_=sa.String(length=100), existing_nullable=False)

    with op.batch_alter_table('reference_photos', schema=None) as batch_op:
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=64), type_=sa.String(length=100), existing_nullable=False)
        batch_op.add_column(sa.Column('id_number', sa.LargeBinary(), nullable=True))

    op.create_table('data_exports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('downloaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_data_exports_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_exports_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_exports_expires_at'))
        batch_op.drop_index(batch_op.f('ix_data_exports_account_id'))
    op.drop_table('data_exports')

    with op.batch_alter_table('reference_photos', schema=None) as batch_op:
        batch_op.drop_column('id_number')
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=100), type_=sa.String(length=64), existing_nullable=False)

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=100), type_=sa.String(length=64), existing_nullable=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
        batch_op.alter_column('id_number_index', existing_type=sa.String(length=100), type_=sa.String(length=64), existing_nullable=True)
        batch_op.alter_column('phone', existing_type=sa.String(length=11), nullable=False)
