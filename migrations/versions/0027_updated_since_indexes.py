"""updated_since indexes

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

Lists asked what changed since a time page by ``(updated_at, id)``: one index each, per organisation, on the
lists a clinic system syncs (recordings, members, review requests, reviews; a case never changes, so its list
pages by ``created_at`` as before).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("recordings", "members", "review_requests", "reviews")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_org_updated", table, ["org_id", "updated_at", "id"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_org_updated", table_name=table)
