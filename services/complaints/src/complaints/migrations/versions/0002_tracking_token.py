"""Tracking tokens: the hash of each complaint's portal token.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.add_column(sa.Column("tracking_token_hash", sa.String(64), nullable=True))
        batch.create_unique_constraint(op.f("uq_complaint_tracking_token_hash"), ["tracking_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("complaint") as batch:
        batch.drop_constraint(op.f("uq_complaint_tracking_token_hash"), type_="unique")
        batch.drop_column("tracking_token_hash")
