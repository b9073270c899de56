"""Areas and their levels, districts, assessments, improvement plans, wording, cell sites, imports;
investigations gain customers, district and dates; their complaints become hot-spot facts.

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "district",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district")),
    )
    op.create_table(
        "area",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("district_id", sa.String(16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area")),
    )
    op.create_index(op.f("ix_area_district_id"), "area", ["district_id"])
    op.create_table(
        "area_level",
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("technology", sa.String(4), nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=True),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("area_id", "technology", "service", name=op.f("pk_area_level")),
    )
    with op.batch_alter_table("investigation") as batch:
        batch.add_column(sa.Column("district_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("customer_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("survey_due_at", TS, nullable=True))
        batch.add_column(sa.Column("assessed_at", TS, nullable=True))
        batch.add_column(sa.Column("closed_at", TS, nullable=True))
    with op.batch_alter_table("investigation_complaint") as batch:
        batch.add_column(sa.Column("area_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("district_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("customer_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("customer_class", sa.String(16), nullable=False, server_default="normal"))
        batch.add_column(sa.Column("symptoms", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("network", sa.String(8), nullable=True))
    op.create_index(
        "ix_investigation_complaint_area_requested", "investigation_complaint", ["area_id", "requested_at"]
    )
    op.create_index("ix_investigation_complaint_requested", "investigation_complaint", ["requested_at"])
    op.create_table(
        "assessment",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("investigation_id", sa.String(36), nullable=True),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("findings", sa.String(4000), nullable=True),
        sa.Column("assessed_by", sa.String(128), nullable=False),
        sa.Column("assessed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
    )
    op.create_index(op.f("ix_assessment_area_id"), "assessment", ["area_id"])
    op.create_table(
        "improvement_plan",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expected_levels", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_plan")),
    )
    op.create_index("ix_improvement_plan_area_status", "improvement_plan", ["area_id", "status"])
    op.create_table(
        "area_wording",
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("draft_text", sa.String(2000), nullable=False),
        sa.Column("published_text", sa.String(2000), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("published_by", sa.String(128), nullable=True),
        sa.Column("published_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("area_id", "language", name=op.f("pk_area_wording")),
    )
    op.create_table(
        "cell_site",
        sa.Column("radio", sa.String(8), nullable=False),
        sa.Column("mcc", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("net", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("area", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cell", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("average_signal", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.String(16), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("radio", "mcc", "net", "area", "cell", name=op.f("pk_cell_site")),
    )
    op.create_index(op.f("ix_cell_site_area_id"), "cell_site", ["area_id"])
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(300), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_ok", sa.Integer(), nullable=False),
        sa.Column("rows_bad", sa.Integer(), nullable=False),
        sa.Column("areas_updated", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )


def downgrade() -> None:
    for table in ("import_job", "cell_site", "area_wording", "improvement_plan", "assessment"):
        op.drop_table(table)
    op.drop_index("ix_investigation_complaint_requested", "investigation_complaint")
    op.drop_index("ix_investigation_complaint_area_requested", "investigation_complaint")
    with op.batch_alter_table("investigation_complaint") as batch:
        for column in ("network", "symptoms", "customer_class", "customer_ref", "district_id", "area_id"):
            batch.drop_column(column)
    with op.batch_alter_table("investigation") as batch:
        for column in ("closed_at", "assessed_at", "survey_due_at", "customer_count", "district_id"):
            batch.drop_column(column)
    for table in ("area_level", "area", "district"):
        op.drop_table(table)
