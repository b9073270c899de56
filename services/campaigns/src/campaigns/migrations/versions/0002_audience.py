"""Audience: subscriber profiles with usage aggregates and model outputs, the plan catalogue,
and the past events segments ask about.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('plan',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('monthly_fee', sa.Float(), nullable=False),
    sa.Column('included_minutes', sa.Float(), nullable=False),
    sa.Column('included_sms', sa.Integer(), nullable=False),
    sa.Column('included_data_mb', sa.Float(), nullable=False),
    sa.Column('per_minute', sa.Float(), nullable=False),
    sa.Column('per_sms', sa.Float(), nullable=False),
    sa.Column('per_mb', sa.Float(), nullable=False),
    sa.Column('long_distance_per_minute', sa.Float(), nullable=False),
    sa.Column('roaming_per_minute', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan'))
    )
    op.create_table('subscriber',
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('customer_ref', sa.String(length=32), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=False),
    sa.Column('plan_id', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=16), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('join_date', sa.Date(), nullable=False),
    sa.Column('birthday', sa.Date(), nullable=True),
    sa.Column('customer_class', sa.String(length=16), nullable=False),
    sa.Column('contact_sms', sa.Boolean(), nullable=False),
    sa.Column('contact_call', sa.Boolean(), nullable=False),
    sa.Column('balance', sa.Float(), nullable=False),
    sa.Column('revenue_m1', sa.Float(), nullable=False),
    sa.Column('revenue_m2', sa.Float(), nullable=False),
    sa.Column('revenue_m3', sa.Float(), nullable=False),
    sa.Column('daily_spend', sa.JSON(), nullable=False),
    sa.Column('avg_daily_spend_3d', sa.Float(), nullable=False),
    sa.Column('top_ups_m1', sa.Integer(), nullable=False),
    sa.Column('last_payment_at', UTCDateTime(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('points_expire_on', sa.Date(), nullable=True),
    sa.Column('minutes_m1', sa.Float(), nullable=False),
    sa.Column('sms_m1', sa.Integer(), nullable=False),
    sa.Column('data_mb_m1', sa.Float(), nullable=False),
    sa.Column('long_distance_minutes_m1', sa.Float(), nullable=False),
    sa.Column('roaming_minutes_m1', sa.Float(), nullable=False),
    sa.Column('prefix_calls_m1', sa.Integer(), nullable=False),
    sa.Column('long_distance_calls_m1', sa.Integer(), nullable=False),
    sa.Column('fee_queries_m1', sa.Integer(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=True),
    sa.Column('roaming', sa.Boolean(), nullable=False),
    sa.Column('roaming_country', sa.String(length=2), nullable=True),
    sa.Column('located_at', UTCDateTime(), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=16), nullable=True),
    sa.Column('value_tier', sa.String(length=8), nullable=True),
    sa.Column('fee_sensitivity', sa.SmallInteger(), nullable=True),
    sa.Column('recommended_plan_id', sa.String(length=32), nullable=True),
    sa.Column('plan_saving', sa.Float(), nullable=True),
    sa.Column('models_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_subscriber'))
    )
    op.create_index('ix_subscriber_cell', 'subscriber', ['cell'], unique=False)
    op.create_index(op.f('ix_subscriber_customer_ref'), 'subscriber', ['customer_ref'], unique=False)
    op.create_index(op.f('ix_subscriber_plan_id'), 'subscriber', ['plan_id'], unique=False)
    op.create_index('ix_subscriber_region_class', 'subscriber', ['region', 'customer_class'], unique=False)
    op.create_table('subscriber_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_event'))
    )
    op.create_index('ix_subscriber_event_lookup', 'subscriber_event', ['msisdn', 'kind', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table("subscriber_event")
    op.drop_table("subscriber")
    op.drop_table("plan")
