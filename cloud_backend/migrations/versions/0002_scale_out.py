"""scale-out: job heartbeats, task ids, direct uploads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:42:03.430909
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('task_id', sa.String(length=64), server_default='', nullable=False))

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direct_upload', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('direct_upload')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('task_id')
        batch_op.drop_column('heartbeat')

