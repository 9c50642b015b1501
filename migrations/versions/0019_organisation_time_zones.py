"""organisation time zones

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Each organisation has an IANA time zone (``organisations.time_zone``, UTC by default), and a session counts in
the day, week and month it occurred in there: ``review_scores.local_day`` keeps that date, and the rollups are
keyed by it. Every organisation so far is on UTC, so the existing scores get their UTC date and the rollups,
already keyed by UTC dates, stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organisations", sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False))
    with op.batch_alter_table("review_scores") as batch:
        batch.add_column(sa.Column("local_day", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE review_scores SET local_day = CAST(timezone('UTC', occurred_at) AS DATE)")
    else:
        op.execute("UPDATE review_scores SET local_day = date(occurred_at)")
    with op.batch_alter_table("review_scores") as batch:
        batch.alter_column("local_day", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    zoned = op.get_bind().execute(sa.text("SELECT count(*) FROM organisations WHERE time_zone <> 'UTC'")).scalar_one()
    if zoned:
        raise RuntimeError(
            f"{zoned} organisations count their sessions in a time zone other than UTC: set it back to UTC (which "
            "needs their scores gone) before downgrading, or their rollups would disagree with their scores"
        )
    with op.batch_alter_table("review_scores") as batch:
        batch.drop_column("local_day")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("time_zone")
