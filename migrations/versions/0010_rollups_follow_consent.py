"""rollups count a session only while its consent holds

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = "org_id, therapist_id, rubric_key, rubric_version, measure_kind, measure, role"


def upgrade() -> None:
    op.create_table(
        "consent_sweeps",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("swept_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_consent_sweeps_org_id_organisations")),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_consent_sweeps")),
    )
    op.add_column("review_scores", sa.Column("counted", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index("ix_recordings_consent_expiry", "recordings", ["org_id", "consent_expires_at"], unique=False)
    # Consent that ended before this revision: those scores stop counting, and expiries up to now are swept.
    now = dt.datetime.now(dt.UTC)
    at = sa.bindparam("now", now if _postgresql() else now.replace(tzinfo=None), type_=sa.DateTime(timezone=True))
    op.execute(
        sa.text(
            "UPDATE review_scores SET counted = false WHERE EXISTS (SELECT 1 FROM recordings r "
            "WHERE r.org_id = review_scores.org_id AND r.id = review_scores.recording_id "
            "AND (r.consent_withdrawn_at IS NOT NULL OR r.consent_expires_at <= :now))"
        ).bindparams(at)
    )
    op.execute(
        sa.text("INSERT INTO consent_sweeps (org_id, swept_until) SELECT id, :now FROM organisations").bindparams(at)
    )
    _rebuild("WHERE counted")


def downgrade() -> None:
    with op.batch_alter_table("review_scores") as batch:
        batch.drop_column("counted")
    op.drop_index("ix_recordings_consent_expiry", table_name="recordings")
    op.drop_table("consent_sweeps")
    _rebuild("")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _rebuild(where: str) -> None:
    """Every rollup row again from the scores ``where`` selects."""
    if _postgresql():
        utc = "timezone('UTC', occurred_at)"
        periods = {
            "score_rollups_daily": f"CAST({utc} AS DATE)",
            "score_rollups_weekly": f"CAST(date_trunc('week', {utc}) AS DATE)",
            "score_rollups_monthly": f"CAST(date_trunc('month', {utc}) AS DATE)",
        }
    else:
        periods = {
            "score_rollups_daily": "date(occurred_at)",
            "score_rollups_weekly": "date(occurred_at, 'weekday 0', '-6 days')",
            "score_rollups_monthly": "date(occurred_at, 'start of month')",
        }
    sums = "count(*), sum(value), sum(value * value), min(value), max(value)"
    columns = "n, total, total_sq, min, max"
    for table, start in periods.items():
        op.execute(f"DELETE FROM {table}")
        op.execute(
            f"INSERT INTO {table} ({KEYS}, day, {columns}) "
            f"SELECT {KEYS}, {start}, {sums} FROM review_scores {where} GROUP BY {KEYS}, {start}"
        )
    op.execute("DELETE FROM score_rollups_total")
    op.execute(
        f"INSERT INTO score_rollups_total ({KEYS}, {columns}) "
        f"SELECT {KEYS}, {sums} FROM review_scores {where} GROUP BY {KEYS}"
    )
