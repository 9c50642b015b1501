"""client ratings

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

A client's own rating of a session is a review with role ``client`` and no reviewer (the client is no member):
``reviews.reviewer_id`` and ``review_scores.reviewer_id`` become nullable, and a check keeps them null exactly
for client ratings. ``client_ratings`` keeps where each came from; ``client_forms`` the one-time links a client
rates through, by the digest of their token. ``organisations.client_ratings_to_peers`` lets peers see client
ratings (off by default), and ``organisations.version`` is the ETag of the organisation's settings.

Downgrading deletes every client rating, with its scores, flags, links and rollup rows (nothing else is filed
under role ``client``), before the older schema, which cannot hold a review without a reviewer, comes back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLLUPS = ("score_rollups_daily", "score_rollups_weekly", "score_rollups_monthly", "score_rollups_total")


def upgrade() -> None:
    op.add_column(
        "organisations",
        sa.Column("client_ratings_to_peers", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("organisations", sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))
    with op.batch_alter_table("reviews") as batch:
        batch.alter_column("reviewer_id", existing_type=sa.Uuid(), nullable=True)
        batch.drop_constraint(op.f("ck_reviews_role"), type_="check")
        batch.create_check_constraint("role", "role IN ('supervisor', 'peer', 'self', 'client')")
        batch.create_check_constraint("client_has_no_reviewer", "(role = 'client') = (reviewer_id IS NULL)")
    with op.batch_alter_table("review_scores") as batch:
        batch.alter_column("reviewer_id", existing_type=sa.Uuid(), nullable=True)
    op.create_table(
        "client_forms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_id", sa.Uuid(), nullable=True),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "created_by_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_client_forms_org_id_created_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "recording_id"],
            ["recordings.org_id", "recordings.id"],
            name=op.f("fk_client_forms_org_id_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_client_forms_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_forms")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_client_forms_org_id_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_client_forms_token_digest")),
    )
    op.create_index("ix_client_forms_org_created", "client_forms", ["org_id", "created_at", "id"], unique=False)
    op.create_index("ix_client_forms_recording", "client_forms", ["org_id", "recording_id"], unique=False)
    op.create_table(
        "client_ratings",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("submitted_by_id", sa.Uuid(), nullable=True),
        sa.Column("form_id", sa.Uuid(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rubric_key", sa.String(length=64), nullable=False),
        sa.Column("rubric_version", sa.String(length=32), nullable=False),
        sa.CheckConstraint("(source = 'link') = (form_id IS NOT NULL)", name=op.f("ck_client_ratings_form")),
        sa.CheckConstraint("source IN ('integration', 'link')", name=op.f("ck_client_ratings_source")),
        sa.ForeignKeyConstraint(
            ["org_id", "recording_id"],
            ["recordings.org_id", "recordings.id"],
            name=op.f("fk_client_ratings_org_id_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "review_id"],
            ["reviews.org_id", "reviews.id"],
            name=op.f("fk_client_ratings_org_id_review_id_reviews"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_client_ratings_org_id_organisations")),
        sa.PrimaryKeyConstraint("org_id", "review_id", name=op.f("pk_client_ratings")),
        sa.UniqueConstraint("org_id", "external_id", name=op.f("uq_client_ratings_org_id_external_id")),
        sa.UniqueConstraint(
            "org_id", "recording_id", "rubric_key", name=op.f("uq_client_ratings_org_id_recording_id_rubric_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("client_ratings")
    op.drop_index("ix_client_forms_recording", table_name="client_forms")
    op.drop_index("ix_client_forms_org_created", table_name="client_forms")
    op.drop_table("client_forms")
    client = "SELECT id FROM reviews WHERE role = 'client'"
    for table in ("review_flags", "review_scores", "reference_reviews", "annotations"):
        op.execute(f"DELETE FROM {table} WHERE review_id IN ({client})")
    for table in _ROLLUPS:
        op.execute(f"DELETE FROM {table} WHERE role = 'client'")
    op.execute("DELETE FROM reviews WHERE role = 'client'")
    with op.batch_alter_table("review_scores") as batch:
        batch.alter_column("reviewer_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("reviews") as batch:
        batch.drop_constraint(op.f("ck_reviews_client_has_no_reviewer"), type_="check")
        batch.drop_constraint(op.f("ck_reviews_role"), type_="check")
        batch.create_check_constraint("role", "role IN ('supervisor', 'peer', 'self')")
        batch.alter_column("reviewer_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("version")
        batch.drop_column("client_ratings_to_peers")
