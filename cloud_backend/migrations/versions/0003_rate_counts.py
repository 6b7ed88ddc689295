"""rate limits: counts per key and time window (requestToken per client and per mail address)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rate_counts',
        sa.Column('key', sa.String(length=400), nullable=False),
        sa.Column('window', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'window'))


def downgrade():
    op.drop_table('rate_counts')
