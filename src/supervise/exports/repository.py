"""The export's one query: a page of result rows (review x measure), in key order after a given key."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, select, tuple_

from supervise.db import Tx
from supervise.recordings.tables import Case, Recording
from supervise.reviews.tables import Review
from supervise.scores.tables import ReviewScore

__all__ = ["ResultRow", "RowKey", "page"]

RowKey = tuple[uuid.UUID, str, str]
"""Where a page ends: ``(review_id, measure_kind, measure)``, the scores' primary key within an organisation."""


class ResultRow(NamedTuple):
    review_id: uuid.UUID
    revision: int
    rubric_key: str
    rubric_version: str
    role: str
    therapist_id: uuid.UUID
    case_id: uuid.UUID
    case_ref: str
    recording_id: uuid.UUID
    recording_external_id: str | None
    session_number: int
    session_date: dt.date
    submitted_at: dt.datetime | None
    measure_kind: str
    measure: str
    value: float


_COLUMNS = (
    ReviewScore.review_id,
    Review.revision,
    ReviewScore.rubric_key,
    ReviewScore.rubric_version,
    ReviewScore.role,
    ReviewScore.therapist_id,
    ReviewScore.case_id,
    Case.external_ref,
    ReviewScore.recording_id,
    Recording.external_id,
    Recording.session_number,
    ReviewScore.local_day,
    Review.submitted_at,
    ReviewScore.measure_kind,
    ReviewScore.measure,
    ReviewScore.value,
)


async def page(
    tx: Tx,
    org_id: uuid.UUID,
    *,
    date_from: dt.date,
    date_to: dt.date,
    therapists: Sequence[uuid.UUID] | None,
    excluded: Sequence[uuid.UUID],
    rubric_key: str | None,
    rubric_version: str | None,
    roles: Sequence[str] | None,
    after: RowKey | None,
    limit: int,
) -> list[ResultRow]:
    """Up to ``limit`` rows after ``after``, in primary-key order (one range of the scores' primary key, so a
    page costs the same however far the export has got). ``review_scores`` holds the current revision of each
    submitted review only (an amendment replaces the scores of the one it amends), and only the rows it
    counts (``counted``: the recording's consent holds) are what the aggregates count."""
    conditions: list[ColumnElement[bool]] = [
        ReviewScore.org_id == org_id,
        ReviewScore.counted.is_(True),
        ReviewScore.local_day >= date_from,
        ReviewScore.local_day <= date_to,
    ]
    if therapists is not None:
        conditions.append(ReviewScore.therapist_id.in_(therapists))
    if excluded:
        conditions.append(ReviewScore.therapist_id.not_in(excluded))
    if rubric_key is not None:
        conditions.append(ReviewScore.rubric_key == rubric_key)
    if rubric_version is not None:
        conditions.append(ReviewScore.rubric_version == rubric_version)
    if roles is not None:
        conditions.append(ReviewScore.role.in_(roles))
    if after is not None:
        conditions.append(tuple_(ReviewScore.review_id, ReviewScore.measure_kind, ReviewScore.measure) > after)
        # The same bound on the joined reviews: without it PostgreSQL merge-joins them from the organisation's
        # first review on every page, so each page cost as much as the pages before it (bench/README.md).
        conditions.append(Review.id >= after[0])
    stmt = (
        select(*_COLUMNS)
        .join(Review, and_(Review.org_id == ReviewScore.org_id, Review.id == ReviewScore.review_id))
        .join(Recording, and_(Recording.org_id == ReviewScore.org_id, Recording.id == ReviewScore.recording_id))
        .join(Case, and_(Case.org_id == ReviewScore.org_id, Case.id == ReviewScore.case_id))
        .where(*conditions)
        .order_by(ReviewScore.review_id, ReviewScore.measure_kind, ReviewScore.measure)
        .limit(limit)
    )
    connection = await tx.connection()  # Core: these are plain columns, with no ORM loading to pay for per row
    return [ResultRow._make(row) for row in (await connection.execute(stmt)).all()]
