"""reference reviews

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_reviews",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("marked_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "review_id"],
            ["reviews.org_id", "reviews.id"],
            name=op.f("fk_reference_reviews_org_id_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_reference_reviews_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "review_id", name=op.f("pk_reference_reviews")),
        sa.UniqueConstraint(
            "org_id",
            "recording_id",
            "rubric_key",
            "rubric_version",
            name=op.f("uq_reference_reviews_org_id_recording_id_rubric_key_rubric_version"),
        ),
    )


def downgrade() -> None:
    op.drop_table("reference_reviews")
