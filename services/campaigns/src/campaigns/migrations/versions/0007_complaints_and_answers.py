"""Past events found by kind and time (a completed coverage plan looks up the coverage complainers
of its area among every customer's events), and members' survey answers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from careloop_common.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscriber_event_kind_at", "subscriber_event", ["kind", "at"])
    with op.batch_alter_table("campaign_member") as batch:
        batch.add_column(sa.Column("answer", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("answered_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_member") as batch:
        batch.drop_column("answered_at")
        batch.drop_column("answer")
    op.drop_index("ix_subscriber_event_kind_at", table_name="subscriber_event")
