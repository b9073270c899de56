"""Complaint lifecycle: the full coverage form, routing, SLA clocks, answers, revisits, history; TMF hub.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime
from careloop_common.hub import create_hub_tables_v1, drop_hub_tables_v1

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (name, type, server default for rows filed before this revision or None when nullable)
NEW_COLUMNS: list[tuple[str, sa.types.TypeEngine[object], str | None]] = [
    ("indoor", sa.Boolean(), None),
    ("floor", sa.SmallInteger(), None),
    ("occurred_at", UTCDateTime(), None),
    ("recurring", sa.Boolean(), None),
    ("handset_make", sa.String(64), None),
    ("handset_model", sa.String(64), None),
    ("contact_preference", sa.String(8), "sms"),
    ("language", sa.String(8), "zh-Hant"),
    ("region", sa.String(8), "HK"),
    ("customer_class", sa.String(16), "normal"),
    ("priority", sa.String(16), "normal"),
    ("queue", sa.String(64), "coverage.HK.normal"),
    ("escalated", sa.Boolean(), "0"),
    ("area_id", sa.String(32), None),
    ("answer_state", sa.String(24), None),
    ("answer_text", sa.String(2000), None),
    ("answer_version", sa.Integer(), None),
    ("answer_at", UTCDateTime(), None),
    ("dispatch_at", UTCDateTime(), None),
    ("dispatched_at", UTCDateTime(), None),
    ("first_response_due", UTCDateTime(), None),
    ("next_update_due", UTCDateTime(), None),
    ("resolution_due", UTCDateTime(), None),
    ("sla_check_at", UTCDateTime(), None),
    ("first_responded_at", UTCDateTime(), None),
    ("last_update_at", UTCDateTime(), None),
    ("sla_flags", sa.JSON(), "[]"),
    ("pauses", sa.JSON(), "[]"),
    ("resolution", sa.String(2000), None),
    ("resolved_at", UTCDateTime(), None),
    ("closed_at", UTCDateTime(), None),
    ("first_contact_resolution", sa.Boolean(), "0"),
    ("revisit_due_at", UTCDateTime(), None),
    ("revisit_sent_at", UTCDateTime(), None),
]
INDEXES = [
    ("ix_complaint_area_status", ["area_id", "status"]),
    ("ix_complaint_dispatch_at", ["dispatch_at"]),
    ("ix_complaint_owner", ["owner"]),
    ("ix_complaint_queue_open", ["queue", "status", "priority"]),
    ("ix_complaint_revisit_due_at", ["revisit_due_at"]),
    ("ix_complaint_sla_check_at", ["sla_check_at"]),
]


def upgrade() -> None:
    op.create_table(
        "complaint_history",
        sa.Column("id", AUTO_ID, nullable=False),
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_value", sa.String(128), nullable=True),
        sa.Column("to_value", sa.String(128), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("customer_visible", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_history")),
    )
    op.create_index(op.f("ix_complaint_history_complaint_id"), "complaint_history", ["complaint_id"])
    op.create_table(
        "complaint_revisit",
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.String(1000), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaint_revisit")),
    )
    create_hub_tables_v1()
    # The defaults only fill rows filed before this revision; the models then drop them.
    with op.batch_alter_table("complaint") as batch:
        for name, type_, default in NEW_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=default is None, server_default=default))
        for name, columns in INDEXES:
            batch.create_index(name, columns)
    with op.batch_alter_table("complaint") as batch:
        for name, type_, default in NEW_COLUMNS:
            if default is not None:
                batch.alter_column(name, existing_type=type_, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        for name, _ in INDEXES:
            batch.drop_index(name)
        for name, _, _ in reversed(NEW_COLUMNS):
            batch.drop_column(name)
    drop_hub_tables_v1()
    op.drop_table("complaint_revisit")
    op.drop_index(op.f("ix_complaint_history_complaint_id"), "complaint_history")
    op.drop_table("complaint_history")
