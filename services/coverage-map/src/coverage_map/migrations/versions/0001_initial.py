"""Platform tables, investigations and their complaints.

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
        "investigation",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("complaint_count", sa.Integer(), nullable=False),
        sa.Column("high_value_count", sa.Integer(), nullable=False),
        sa.Column("symptom_counts", sa.JSON(), nullable=False),
        sa.Column("first_complaint_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_complaint_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investigation")),
    )
    op.create_index("ix_investigation_area_status", "investigation", ["area_id", "status"])
    op.create_table(
        "investigation_complaint",
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("investigation_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["investigation_id"], ["investigation.id"],
                                name=op.f("fk_investigation_complaint_investigation_id_investigation")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_investigation_complaint")),
    )
    op.create_index(op.f("ix_investigation_complaint_investigation_id"), "investigation_complaint",
                    ["investigation_id"])


def downgrade() -> None:
    op.drop_table("investigation_complaint")
    op.drop_table("investigation")
    for table in ("idempotency_record", "inbox_processed_event", "outbox_relay_lease", "outbox_message"):
        op.drop_table(table)
