"""Queue names of complaints filed before 0003: the lane is standard or green, not normal.

0003 gave every earlier complaint the queue ``coverage.HK.normal`` (its server default), but the
queues are ``<category>.<region>.<lane>`` with lane ``standard`` or ``green`` (lifecycle.queue_for):
those complaints sat in a queue no agent's view names. Recompute each one's queue from its own
category, region and customer class.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As lifecycle.GREEN_CLASSES was when this was written: migrations do not follow later code.
GREEN_CLASSES = ("vip", "gold")


def upgrade() -> None:
    complaint = sa.table(
        "complaint",
        sa.column("queue", sa.String),
        sa.column("category", sa.String),
        sa.column("region", sa.String),
        sa.column("customer_class", sa.String),
    )
    lane = sa.case((complaint.c.customer_class.in_(GREEN_CLASSES), "green"), else_="standard")
    op.execute(
        complaint.update()
        .where(complaint.c.queue.like("%.normal"))
        .values(queue=complaint.c.category + "." + complaint.c.region + "." + lane)
    )


def downgrade() -> None:
    """Nothing to undo: the old names were wrong, and 0003's downgrade drops the column."""
