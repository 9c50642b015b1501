"""idempotency keys per member

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

An ``Idempotency-Key`` was remembered per API key; it is now remembered per member, so a member's front end
and command line (two keys) share their retries. The key that made the first request stays on the record.
Where one member used the same key with two API keys within the window, the newest record is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_records", sa.Column("member_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE idempotency_records SET member_id = (SELECT k.member_id FROM api_keys k "
        "WHERE k.id = idempotency_records.api_key_id)"
    )
    op.execute("DELETE FROM idempotency_records WHERE member_id IS NULL")
    op.execute(
        "DELETE FROM idempotency_records WHERE EXISTS (SELECT 1 FROM idempotency_records newer "
        "WHERE newer.org_id = idempotency_records.org_id AND newer.member_id = idempotency_records.member_id "
        "AND newer.key = idempotency_records.key AND (newer.created_at > idempotency_records.created_at "
        "OR (newer.created_at = idempotency_records.created_at AND newer.api_key_id > idempotency_records.api_key_id)))"
    )
    with op.batch_alter_table("idempotency_records") as batch:
        batch.alter_column("member_id", existing_type=sa.Uuid(), nullable=False)
        batch.drop_constraint("pk_idempotency_records", type_="primary")
        batch.create_primary_key("pk_idempotency_records", ["org_id", "member_id", "key"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_constraint("pk_idempotency_records", type_="primary")
        batch.create_primary_key("pk_idempotency_records", ["org_id", "api_key_id", "key"])
        batch.drop_column("member_id")
