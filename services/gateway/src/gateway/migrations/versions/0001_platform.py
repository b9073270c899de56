"""Platform tables: outbox, relay lease, inbox, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from careloop_common.migrations import create_platform_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables_v1()


def downgrade() -> None:
    for table in ("idempotency_record", "inbox_processed_event", "outbox_relay_lease", "outbox_message"):
        op.drop_table(table)
