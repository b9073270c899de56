"""Contact requests (messages and calls), SMS segments, early receipts, timelines, opt-outs,
replies and templates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "communication",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("message_type", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("sender", sa.JSON(), nullable=False),
        sa.Column("characteristic", sa.JSON(), nullable=False),
        sa.Column("scheduled_send_time", TS, nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication")),
    )
    with op.batch_alter_table("communication", schema=None) as batch_op:
        batch_op.create_index("ix_communication_partner", ["partner_id", "created_at"], unique=False)

    op.create_table(
        "contact_reply",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=21), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("keyword", sa.String(length=16), nullable=True),
        sa.Column("in_reply_to", sa.String(length=36), nullable=True),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_reply")),
    )
    with op.batch_alter_table("contact_reply", schema=None) as batch_op:
        batch_op.create_index("ix_contact_reply_msisdn", ["msisdn", "received_at"], unique=False)

    op.create_table(
        "contact_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("customer_ref", sa.String(length=32), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("not_before", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("complaint_id", sa.String(length=64), nullable=True),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("communication_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=True),
        sa.Column("smpp_status", sa.Integer(), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("round_spacing_s", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_request")),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_contact_request_idempotency"),
    )
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.create_index("ix_contact_request_campaign", ["campaign_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_contact_request_caps", ["msisdn", "channel", "purpose", "created_at"], unique=False
        )
        batch_op.create_index("ix_contact_request_communication", ["communication_id"], unique=False)
        batch_op.create_index("ix_contact_request_due", ["channel", "status", "rank", "due_at"], unique=False)

    op.create_table(
        "contact_timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_timeline")),
    )
    with op.batch_alter_table("contact_timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_timeline_request_id"), ["request_id"], unique=False)

    op.create_table(
        "early_receipt",
        sa.Column("smsc_message_id", sa.String(length=65), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("error", sa.String(length=8), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("smsc_message_id", "connector", name=op.f("pk_early_receipt")),
    )
    op.create_table(
        "message_template",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", "language", name=op.f("pk_message_template")),
    )
    op.create_table(
        "opt_out",
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("msisdn", "channel", "purpose", name=op.f("pk_opt_out")),
    )
    op.create_table(
        "sms_segment",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=65), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("error", sa.String(length=8), nullable=True),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("request_id", "part", name=op.f("pk_sms_segment")),
    )
    with op.batch_alter_table("sms_segment", schema=None) as batch_op:
        batch_op.create_index("ix_sms_segment_smsc_id", ["smsc_message_id"], unique=False)


def downgrade() -> None:
    for table in (
        "communication",
        "message_template",
        "contact_reply",
        "opt_out",
        "contact_timeline",
        "early_receipt",
        "sms_segment",
        "contact_request",
    ):
        op.drop_table(table)
