"""per-scan options, consent, re-runs and webhooks (issue 16)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        # the options the client sent (JSON object); absent ones take the server's defaults
        batch_op.add_column(sa.Column('options', sa.Text(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('consent', sa.Boolean(), server_default=sa.false(), nullable=False))
        # scheme://host[:port] the client used, for links made outside a request (webhooks)
        batch_op.add_column(sa.Column('base_url', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('delivered', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('photos_deleted', sa.DateTime(), nullable=True))

    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook', sa.String(length=2000), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('webhook')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('photos_deleted')
        batch_op.drop_column('delivered')
        batch_op.drop_column('base_url')
        batch_op.drop_column('consent')
        batch_op.drop_column('options')
