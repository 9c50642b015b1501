"""per-session figures, and 3RS session items without a rupture taken out

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07

Series and team views count sessions, each the mean of the reviews of it by a rater set: session rollups
are rows of the rollup tables whose ``role`` names the set (``s:observers``, ``s:supervisor``, ``s:peer``,
``s:self``, ``s:client``), filled here from the counted scores; ``ix_review_scores_sessions`` covers the
GROUP BY per recording that recomputes them at each write.

A 3RS review submitted before scoring called the therapist's contribution and the resolution not applicable
without a rupture (``Result.not_applicable``) still has scores for them (a 1-5 value that rates nothing):
they are deleted, the rollups of those two items are rebuilt from the scores left, and the stored results
say ``not_applicable`` as new ones do. The downgrade drops the session rollups and the index; the deleted
3RS values stay deleted: they carried no information.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = "org_id, therapist_id, rubric_key, rubric_version, measure_kind, measure, role"
ON_RUPTURES = ("therapist_contribution", "resolution_extent")
SETS = {
    "s:supervisor": "('supervisor')",
    "s:peer": "('peer')",
    "s:self": "('self')",
    "s:client": "('client')",
    "s:observers": "('supervisor', 'peer')",
}
SESSIONS_INDEX = (
    "org_id",
    "rubric_key",
    "rubric_version",
    "therapist_id",
    "measure_kind",
    "measure",
    "recording_id",
    "role",
    "local_day",
    "counted",
    "value",
)


def upgrade() -> None:
    op.create_index("ix_review_scores_sessions", "review_scores", list(SESSIONS_INDEX), unique=False)
    _without_ruptures()
    _session_rollups()


def downgrade() -> None:
    for table in (*_periods(), "score_rollups_total"):
        op.execute(f"DELETE FROM {table} WHERE role LIKE 's:%'")
    op.drop_index("ix_review_scores_sessions", table_name="review_scores")


def _periods(day: str = "local_day") -> dict[str, str]:
    """Each periodic rollup table, and the SQL for the first day of its period holding ``day``."""
    if _postgresql():
        return {
            "score_rollups_daily": day,
            "score_rollups_weekly": f"CAST(date_trunc('week', {day}) AS DATE)",
            "score_rollups_monthly": f"CAST(date_trunc('month', {day}) AS DATE)",
        }
    return {
        "score_rollups_daily": day,
        "score_rollups_weekly": f"date({day}, 'weekday 0', '-6 days')",
        "score_rollups_monthly": f"date({day}, 'start of month')",
    }


def _session_rollups() -> None:
    """Every session rollup row from the counted scores: per rater set, the sums over session means."""
    cell = "org_id, therapist_id, rubric_key, rubric_version, measure_kind, measure"
    sums = "count(*), sum(mean), sum(mean * mean), min(mean), max(mean)"
    for name, roles in SETS.items():
        sessions = (
            f"(SELECT {cell}, recording_id, min(local_day) AS day, avg(value) AS mean FROM review_scores "
            f"WHERE counted AND role IN {roles} GROUP BY {cell}, recording_id) AS sessions"
        )
        for table, start in (*_periods("day").items(), ("score_rollups_total", None)):
            if start is None:
                op.execute(
                    f"INSERT INTO {table} ({KEYS}, n, total, total_sq, min, max) "
                    f"SELECT {cell}, '{name}', {sums} FROM {sessions} GROUP BY {cell}"
                )
            else:
                op.execute(
                    f"INSERT INTO {table} ({KEYS}, day, n, total, total_sq, min, max) "
                    f"SELECT {cell}, '{name}', {start}, {sums} FROM {sessions} GROUP BY {cell}, {start}"
                )


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _without_ruptures() -> None:
    items = "('therapist_contribution', 'resolution_extent')"
    no_rupture = (
        "SELECT 1 FROM review_scores r WHERE r.org_id = review_scores.org_id AND r.review_id = "
        "review_scores.review_id AND r.measure_kind = 'score' AND r.measure = 'rupture_segments' AND r.value = 0"
    )
    op.execute(
        f"DELETE FROM review_scores WHERE rubric_key = '3rs' AND measure_kind = 'item' AND measure IN {items} "
        f"AND EXISTS ({no_rupture})"
    )
    periods = _periods()
    these = f"rubric_key = '3rs' AND measure_kind = 'item' AND measure IN {items}"
    sums = "count(*), sum(value), sum(value * value), min(value), max(value)"
    columns = "n, total, total_sq, min, max"
    for table, start in periods.items():
        op.execute(f"DELETE FROM {table} WHERE {these}")
        op.execute(
            f"INSERT INTO {table} ({KEYS}, day, {columns}) SELECT {KEYS}, {start}, {sums} FROM review_scores "
            f"WHERE counted AND {these} GROUP BY {KEYS}, {start}"
        )
    op.execute(f"DELETE FROM score_rollups_total WHERE {these}")
    op.execute(
        f"INSERT INTO score_rollups_total ({KEYS}, {columns}) SELECT {KEYS}, {sums} FROM review_scores "
        f"WHERE counted AND {these} GROUP BY {KEYS}"
    )
    reviews = sa.table(
        "reviews", sa.column("org_id"), sa.column("id"), sa.column("rubric_key"), sa.column("result", sa.JSON)
    )
    bind = op.get_bind()
    for org_id, review_id, result in bind.execute(
        sa.select(reviews.c.org_id, reviews.c.id, reviews.c.result).where(
            reviews.c.rubric_key == "3rs", reviews.c.result.is_not(None)
        )
    ):
        if result.get("scores", {}).get("rupture_segments") != 0 or result.get("not_applicable"):
            continue
        bind.execute(
            reviews.update()
            .where(reviews.c.org_id == org_id, reviews.c.id == review_id)
            .values(result={**result, "not_applicable": list(ON_RUPTURES)})
        )
