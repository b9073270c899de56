"""Platform tables and the complaint table.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.migrations import create_platform_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables_v1()
    op.create_table(
        "complaint",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("msisdn", sa.String(16), nullable=False),
        sa.Column("description", sa.String(4000), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("network", sa.String(8), nullable=True),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint")),
        sa.UniqueConstraint("reference", name=op.f("uq_complaint_reference")),
    )
    op.create_index(op.f("ix_complaint_msisdn"), "complaint", ["msisdn"])
    op.create_index("ix_complaint_partner_created", "complaint", ["partner_id", "created_at"])


def downgrade() -> None:
    op.drop_table("complaint")
    for table in ("idempotency_record", "inbox_processed_event", "outbox_relay_lease", "outbox_message"):
        op.drop_table(table)
