"""webhook delivery attempts

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-07

The delivery log, per attempt: when it started, the receiver's status, the latency, our error, and what came
next (a retry when, success, or the endpoint disabled). Deliveries made before it keep only their last attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("next_action", sa.String(length=16), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "next_action IN ('retry', 'succeeded', 'disabled')",
            name=op.f("ck_webhook_delivery_attempts_next_action"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_delivery_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_webhook_delivery_attempts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery_attempts")),
        sa.UniqueConstraint("delivery_id", "attempt", name=op.f("uq_webhook_delivery_attempts_delivery_id_attempt")),
    )
    op.create_index(
        "ix_webhook_delivery_attempts_log",
        "webhook_delivery_attempts",
        ["org_id", "delivery_id", "started_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_attempts_log", table_name="webhook_delivery_attempts")
    op.drop_table("webhook_delivery_attempts")
