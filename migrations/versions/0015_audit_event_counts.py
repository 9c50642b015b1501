"""audit event counts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

``audit_events.count``: how many attempts an event stands for. 1 for every event so far; repeated refusals
within a window are now one event with their number (``supervise.audit.denials``). The hash covers ``count``
only when it is not 1, so every chain written before this revision verifies unchanged.

A plain ``ADD COLUMN`` on both databases, not a batch copy: SQLite would rebuild the table without its
append-only triggers. Downgrading is refused once an event has a count other than 1, as its hash could no
longer be recomputed without it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("count", sa.Integer(), server_default=sa.text("1"), nullable=False))


def downgrade() -> None:
    coalesced = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_events WHERE count <> 1")).scalar_one()
    if coalesced:
        raise RuntimeError(
            f"{coalesced} audit events stand for repeated refusals (count > 1): their hashes need the count, "
            "so this revision cannot be downgraded without breaking the chains"
        )
    op.execute("ALTER TABLE audit_events DROP COLUMN count")
