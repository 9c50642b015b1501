"""cases and recordings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "therapist_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_cases_org_id_therapist_id_members"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_cases_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_cases_org_id_id")),
        sa.UniqueConstraint(
            "org_id", "therapist_id", "external_ref", name=op.f("uq_cases_org_id_therapist_id_external_ref")
        ),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_org_created", ["org_id", "created_at", "id"], unique=False)

    op.create_table(
        "recordings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.Column("media_uri", sa.String(length=2048), nullable=False),
        sa.Column("media_sha256", sa.String(length=64), nullable=False),
        sa.Column("consent_scope", sa.String(length=32), nullable=False),
        sa.Column("consent_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("medium IN ('video', 'audio', 'transcript')", name=op.f("ck_recordings_medium")),
        sa.CheckConstraint("duration_ms > 0", name=op.f("ck_recordings_duration")),
        sa.ForeignKeyConstraint(
            ["org_id", "case_id"], ["cases.org_id", "cases.id"], name=op.f("fk_recordings_org_id_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "therapist_id"],
            ["members.org_id", "members.id"],
            name=op.f("fk_recordings_org_id_therapist_id_members"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_recordings_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("org_id", "external_id", name=op.f("uq_recordings_org_id_external_id")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_recordings_org_id_id")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index("ix_recordings_case", ["org_id", "case_id", "session_number"], unique=False)
        batch_op.create_index("ix_recordings_org_created", ["org_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_recordings_therapist", ["org_id", "therapist_id", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_recordings_therapist")
        batch_op.drop_index("ix_recordings_org_created")
        batch_op.drop_index("ix_recordings_case")

    op.drop_table("recordings")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_org_created")

    op.drop_table("cases")
