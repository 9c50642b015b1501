"""Per-session figures: each session's value is the mean of the reviews of it (in the roles asked), and a
figure's ``n`` counts sessions, not reviews.

Read from the counted scores directly (``ix_review_scores_sessions`` covers the query): the rollups hold sums
per review, and a session's mean moves with every review of it, so they cannot be added up per session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from sqlalchemy import Date, Integer, cast, func, null, select

from supervise.db import Tx
from supervise.scores.tables import ReviewScore

__all__ = ["SessionSums", "session_sums"]


class SessionSums(NamedTuple):
    """Per therapist, measure and period start (``None``: the whole range), over session means."""

    therapist_id: uuid.UUID
    kind: str
    measure: str
    start: dt.date | None
    n: int
    """Sessions."""
    total: float
    total_sq: float
    low: float
    high: float
    reviews: int
    """Reviews behind the sessions' means."""


def _period(tx: Tx, day: Any, grain: Literal["week", "month"]) -> Any:
    if tx.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc(grain, day), Date)
    if grain == "week":
        return func.date(day, "weekday 0", "-6 days", type_=Date)  # the Monday on or before
    return func.date(day, "start of month", type_=Date)


async def session_sums(
    tx: Tx,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    *,
    grain: Literal["week", "month"] | None,
) -> list[SessionSums]:
    """Sums of the sessions' means over ``roles`` for sessions on the local days ``first``..``last`` (``None``:
    open), per therapist and measure, and per week or month (``grain``) or over the whole range."""
    where = [
        ReviewScore.org_id == org_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.role.in_(roles),
        ReviewScore.counted.is_(True),
    ]
    if therapist_ids is not None:
        where.append(ReviewScore.therapist_id.in_(therapist_ids))
    if first is not None:
        where.append(ReviewScore.local_day >= first)
    if last is not None:
        where.append(ReviewScore.local_day <= last)
    keys = (ReviewScore.therapist_id, ReviewScore.measure_kind, ReviewScore.measure)
    per_session = (
        select(
            *keys,
            func.min(ReviewScore.local_day).label("day"),  # one session, one day
            func.avg(ReviewScore.value).label("mean"),
            func.count().label("reviews"),
        )
        .where(*where)
        .group_by(*keys, ReviewScore.recording_id)
        .subquery()
    )
    s = per_session.c
    start = null() if grain is None else _period(tx, s.day, grain)
    stmt = select(
        s.therapist_id,
        s.measure_kind,
        s.measure,
        start,
        func.count(),
        func.sum(s.mean),
        func.sum(s.mean * s.mean),
        func.min(s.mean),
        func.max(s.mean),
        cast(func.sum(s.reviews), Integer),
    ).group_by(s.therapist_id, s.measure_kind, s.measure, *([] if grain is None else [start]))
    rows = await tx.execute(stmt)
    return [
        SessionSums(
            therapist_id,
            kind,
            measure,
            _day(day),
            int(n),
            float(total),
            float(total_sq),
            float(low),
            float(high),
            int(reviews),
        )
        for therapist_id, kind, measure, day, n, total, total_sq, low, high, reviews in rows
    ]


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
