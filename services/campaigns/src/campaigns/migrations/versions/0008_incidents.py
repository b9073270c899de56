"""Major-event care: where subscribers were seen, whom they call, incidents, the people each cares
for and the call rounds placed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "place_seen",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("cell", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("roaming", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_seen")),
    )
    op.create_index("ix_place_seen_at", "place_seen", ["at"], unique=False)
    op.create_index("ix_place_seen_msisdn", "place_seen", ["msisdn", "at"], unique=False)
    op.create_table(
        "call_contact",
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("counterpart", sa.String(length=21), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", "counterpart", name=op.f("pk_call_contact")),
    )
    op.create_index("ix_call_contact_counterpart", "call_contact", ["counterpart"], unique=False)
    op.create_table(
        "incident",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("min_lng", sa.Float(), nullable=False),
        sa.Column("max_lng", sa.Float(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("rounds", sa.SmallInteger(), nullable=False),
        sa.Column("round_gap_s", sa.Integer(), nullable=False),
        sa.Column("contacts_per_person", sa.SmallInteger(), nullable=False),
        sa.Column("credit_limit", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_table(
        "incident_person",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("msisdn", sa.String(length=21), nullable=False),
        sa.Column("customer_ref", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("contact_of", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rounds", sa.SmallInteger(), nullable=False),
        sa.Column("next_round_at", UTCDateTime(), nullable=True),
        sa.Column("last_call", sa.String(length=48), nullable=True),
        sa.Column("credit_protected", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("outcome_by", sa.String(length=128), nullable=True),
        sa.Column("outcome_at", UTCDateTime(), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "msisdn", name=op.f("pk_incident_person")),
    )
    op.create_index("ix_incident_person_ref", "incident_person", ["incident_id", "customer_ref"], unique=False)
    op.create_index("ix_incident_person_due", "incident_person", ["next_round_at"], unique=False)
    op.create_table(
        "incident_call",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("msisdn", sa.String(length=21), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("result", sa.String(length=48), nullable=True),
        sa.Column("result_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_call")),
    )
    op.create_index("ix_incident_call_incident", "incident_call", ["incident_id", "placed_at"], unique=False)


def downgrade() -> None:
    for table in ("incident_call", "incident_person", "incident", "call_contact", "place_seen"):
        op.drop_table(table)
