"""Audience kept from feeds and bulk imports: when each held value was current, the subscribers
whose models are due, and the import jobs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(sa.Column("profile_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("plan_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("balance_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("bill_period", sa.String(length=7), nullable=True))
        batch.add_column(sa.Column("spend_through", sa.Date(), nullable=True))
    op.create_table(
        "model_due",
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_model_due")),
    )
    op.create_table(
        "audience_import",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure", sa.String(length=1000), nullable=True),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_imported", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("models_scored", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_import")),
    )


def downgrade() -> None:
    op.drop_table("audience_import")
    op.drop_table("model_due")
    with op.batch_alter_table("subscriber") as batch:
        for column in ("spend_through", "bill_period", "balance_at", "plan_at", "profile_at"):
            batch.drop_column(column)
