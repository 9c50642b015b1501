"""weekly and monthly rollups, filled from the scores already stored

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_rollups_monthly",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("measure_kind", sa.String(length=8), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.CheckConstraint("measure_kind IN ('item', 'score')", name=op.f("ck_score_rollups_monthly_measure_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_score_rollups_monthly_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "therapist_id",
            "rubric_key",
            "rubric_version",
            "measure_kind",
            "measure",
            "role",
            "day",
            name=op.f("pk_score_rollups_monthly"),
        ),
    )
    op.create_table(
        "score_rollups_weekly",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("measure_kind", sa.String(length=8), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.CheckConstraint("measure_kind IN ('item', 'score')", name=op.f("ck_score_rollups_weekly_measure_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_score_rollups_weekly_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "therapist_id",
            "rubric_key",
            "rubric_version",
            "measure_kind",
            "measure",
            "role",
            "day",
            name=op.f("pk_score_rollups_weekly"),
        ),
    )
    _fill("score_rollups_weekly", "week")
    _fill("score_rollups_monthly", "month")


def _fill(table: str, period: str) -> None:
    """Roll up the scores stored before this revision (the product keeps the rows current from here on)."""
    if op.get_bind().dialect.name == "postgresql":
        start = f"CAST(date_trunc('{period}', timezone('UTC', occurred_at)) AS DATE)"
    else:
        start = (
            "date(occurred_at, 'weekday 0', '-6 days')" if period == "week" else "date(occurred_at, 'start of month')"
        )
    keys = "org_id, therapist_id, rubric_key, rubric_version, measure_kind, measure, role"
    op.execute(
        f"INSERT INTO {table} ({keys}, day, n, total, total_sq, min, max) "
        f"SELECT {keys}, {start}, count(*), sum(value), sum(value * value), min(value), max(value) "
        f"FROM review_scores GROUP BY {keys}, {start}"
    )


def downgrade() -> None:
    op.drop_table("score_rollups_weekly")
    op.drop_table("score_rollups_monthly")
