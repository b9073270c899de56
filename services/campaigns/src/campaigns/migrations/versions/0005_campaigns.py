"""Campaigns: the campaign with its audience, trigger, content and rules; its steps; the customers
it met, their arm (treatment or control) and what became of each contact.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('goal', sa.String(length=2000), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=True),
    sa.Column('segment_id', sa.String(length=36), nullable=True),
    sa.Column('trigger_kind', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('cap_per_customer', sa.Integer(), nullable=False),
    sa.Column('min_gap_days', sa.Integer(), nullable=False),
    sa.Column('control_share', sa.Float(), nullable=False),
    sa.Column('conversion', sa.JSON(), nullable=True),
    sa.Column('starts_at', UTCDateTime(), nullable=True),
    sa.Column('ends_at', UTCDateTime(), nullable=True),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('approver', sa.String(length=128), nullable=True),
    sa.Column('approved_at', UTCDateTime(), nullable=True),
    sa.Column('next_run_at', UTCDateTime(), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign'))
    )
    op.create_index('ix_campaign_status_trigger', 'campaign', ['status', 'trigger_kind'], unique=False)
    op.create_table('campaign_member',
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('customer_ref', sa.String(length=32), nullable=False),
    sa.Column('arm', sa.String(length=9), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('touches', sa.Integer(), nullable=False),
    sa.Column('first_at', UTCDateTime(), nullable=False),
    sa.Column('last_at', UTCDateTime(), nullable=False),
    sa.Column('conversion_until', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('campaign_id', 'msisdn', name=op.f('pk_campaign_member'))
    )
    op.create_index('ix_campaign_member_outcome', 'campaign_member', ['campaign_id', 'outcome'], unique=False)
    op.create_index('ix_campaign_member_ref', 'campaign_member', ['customer_ref', 'campaign_id'], unique=False)
    op.create_table('campaign_step',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('from_value', sa.String(length=32), nullable=True),
    sa.Column('to_value', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_step'))
    )
    op.create_index(op.f('ix_campaign_step_campaign_id'), 'campaign_step', ['campaign_id'], unique=False)


def downgrade() -> None:
    op.drop_table("campaign_step")
    op.drop_table("campaign_member")
    op.drop_table("campaign")
