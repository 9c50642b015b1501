"""review scores and rollups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_rollups_daily",
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
        sa.CheckConstraint("measure_kind IN ('item', 'score')", name=op.f("ck_score_rollups_daily_measure_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_score_rollups_daily_org_id_organisations")
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
            name=op.f("pk_score_rollups_daily"),
        ),
    )
    op.create_table(
        "score_rollups_total",
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
        sa.CheckConstraint("measure_kind IN ('item', 'score')", name=op.f("ck_score_rollups_total_measure_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_score_rollups_total_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint(
            "org_id",
            "therapist_id",
            "rubric_key",
            "rubric_version",
            "measure_kind",
            "measure",
            "role",
            name=op.f("pk_score_rollups_total"),
        ),
    )
    op.create_table(
        "review_scores",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("measure_kind", sa.String(length=8), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("measure_kind IN ('item', 'score')", name=op.f("ck_review_scores_measure_kind")),
        sa.ForeignKeyConstraint(
            ["org_id", "review_id"],
            ["reviews.org_id", "reviews.id"],
            name=op.f("fk_review_scores_org_id_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "review_id", "measure_kind", "measure", name=op.f("pk_review_scores")),
    )
    with op.batch_alter_table("review_scores", schema=None) as batch_op:
        batch_op.create_index("ix_review_scores_recording", ["org_id", "recording_id"], unique=False)
        batch_op.create_index("ix_review_scores_case", ["org_id", "case_id", "session_number"], unique=False)
        batch_op.create_index(
            "ix_review_scores_rollup",
            [
                "org_id",
                "rubric_key",
                "rubric_version",
                "therapist_id",
                "measure_kind",
                "measure",
                "role",
                "occurred_at",
                "value",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("review_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_review_scores_rollup")
        batch_op.drop_index("ix_review_scores_case")
        batch_op.drop_index("ix_review_scores_recording")

    op.drop_table("review_scores")
    op.drop_table("score_rollups_total")
    op.drop_table("score_rollups_daily")
