"""review requests, reviews and annotations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('supervisor', 'peer', 'self')", name=op.f("ck_review_requests_role")),
        sa.CheckConstraint(
            "state IN ('open', 'in_progress', 'done', 'cancelled')", name=op.f("ck_review_requests_state")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "recording_id"],
            ["recordings.org_id", "recordings.id"],
            name=op.f("fk_review_requests_org_id_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "requested_by_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_review_requests_org_id_requested_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "reviewer_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_review_requests_org_id_reviewer_id_members"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_review_requests_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_requests")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_review_requests_org_id_id")),
    )
    with op.batch_alter_table("review_requests", schema=None) as batch_op:
        batch_op.create_index("ix_review_requests_org_created", ["org_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_review_requests_recording", ["org_id", "recording_id"], unique=False)
        batch_op.create_index("ix_review_requests_reviewer", ["org_id", "reviewer_id", "state"], unique=False)
        batch_op.create_index(
            "uq_review_requests_live",
            ["org_id", "recording_id", "reviewer_id", "rubric_key"],
            unique=True,
            sqlite_where=sa.text("state IN ('open', 'in_progress')"),
            postgresql_where=sa.text("state IN ('open', 'in_progress')"),
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("amends_id", sa.Uuid(), nullable=True),
        sa.Column("amend_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by_id", sa.Uuid(), nullable=True),
        sa.Column("responses", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.Column("usefulness", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('supervisor', 'peer', 'self')", name=op.f("ck_reviews_role")),
        sa.CheckConstraint("state IN ('draft', 'submitted', 'acknowledged')", name=op.f("ck_reviews_state")),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_reviews_revision")),
        sa.CheckConstraint("usefulness IS NULL OR usefulness BETWEEN 1 AND 5", name=op.f("ck_reviews_usefulness")),
        sa.ForeignKeyConstraint(
            ["org_id", "amends_id"], ["reviews.org_id", "reviews.id"], name=op.f("fk_reviews_org_id_amends_id_reviews")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "recording_id"],
            ["recordings.org_id", "recordings.id"],
            name=op.f("fk_reviews_org_id_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "request_id"],
            ["review_requests.org_id", "review_requests.id"],
            name=op.f("fk_reviews_org_id_request_id_review_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "reviewer_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_reviews_org_id_reviewer_id_members"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_reviews_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("org_id", "amends_id", name=op.f("uq_reviews_org_id_amends_id")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_reviews_org_id_id")),
        sa.UniqueConstraint(
            "org_id",
            "recording_id",
            "reviewer_id",
            "rubric_key",
            "revision",
            name=op.f("uq_reviews_org_id_recording_id_reviewer_id_rubric_key_revision"),
        ),
        sa.UniqueConstraint("org_id", "request_id", name=op.f("uq_reviews_org_id_request_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_org_created", ["org_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_reviews_recording", ["org_id", "recording_id"], unique=False)
        batch_op.create_index("ix_reviews_reviewer", ["org_id", "reviewer_id", "state"], unique=False)
        batch_op.create_index("ix_reviews_therapist", ["org_id", "therapist_id"], unique=False)

    op.create_table(
        "annotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("start_ms", sa.Integer(), nullable=False),
        sa.Column("end_ms", sa.Integer(), nullable=True),
        sa.Column("item_key", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('strength', 'growth', 'rupture', 'repair', 'note')", name=op.f("ck_annotations_kind")
        ),
        sa.CheckConstraint("start_ms >= 0 AND (end_ms IS NULL OR end_ms > start_ms)", name=op.f("ck_annotations_span")),
        sa.ForeignKeyConstraint(
            ["org_id", "review_id"],
            ["reviews.org_id", "reviews.id"],
            name=op.f("fk_annotations_org_id_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_annotations_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_annotations_org_id_id")),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index("ix_annotations_review", ["org_id", "review_id", "start_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index("ix_annotations_review")

    op.drop_table("annotations")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_therapist")
        batch_op.drop_index("ix_reviews_reviewer")
        batch_op.drop_index("ix_reviews_recording")
        batch_op.drop_index("ix_reviews_org_created")

    op.drop_table("reviews")
    with op.batch_alter_table("review_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_review_requests_live",
            sqlite_where=sa.text("state IN ('open', 'in_progress')"),
            postgresql_where=sa.text("state IN ('open', 'in_progress')"),
        )
        batch_op.drop_index("ix_review_requests_reviewer")
        batch_op.drop_index("ix_review_requests_recording")
        batch_op.drop_index("ix_review_requests_org_created")

    op.drop_table("review_requests")
