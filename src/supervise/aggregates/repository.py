"""Named queries the aggregate views read: rollup sums, and the scores of the reviews a viewer may read."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from sqlalchemy import Select, and_, exists, func, null, select
from sqlalchemy.orm import aliased

from supervise.db import Tx
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page
from supervise.recordings.tables import Recording
from supervise.reviews.repository import Viewer
from supervise.reviews.tables import ReferenceReview, Review
from supervise.scores.periods import Period, day_after, period_end, period_start
from supervise.scores.tables import ReviewFlag, ReviewScore, RollupDay, RollupMonth, RollupTotal, RollupWeek

__all__ = [
    "CalibrationPair",
    "CaseScore",
    "ObserverValue",
    "RatedResponses",
    "RoleValue",
    "RollupSums",
    "SelfAndObservers",
    "UsefulnessSums",
    "calibration_pairs",
    "case_scores",
    "next_consent_expiry",
    "observer_values",
    "page_flags",
    "rated_responses",
    "read_sums",
    "role_values",
    "self_and_observers",
    "usefulness",
]


class RollupSums(NamedTuple):
    """Rollup rows summed: per therapist and measure, and per period start (``None``: the whole range)."""

    therapist_id: uuid.UUID
    kind: str
    measure: str
    start: dt.date | None
    n: int
    total: float
    total_sq: float
    low: float
    high: float


class SelfAndObservers(NamedTuple):
    kind: str
    measure: str
    own: float
    """The therapist's rating of a recording."""
    observed: float
    """The observers' mean on the same recording."""


class CaseScore(NamedTuple):
    session_number: int
    recording_id: uuid.UUID
    occurred_at: dt.datetime
    role: str
    reviewer_id: uuid.UUID | None
    value: float


class UsefulnessSums(NamedTuple):
    reviewer_id: uuid.UUID
    n: int
    total: int
    total_sq: int
    low: int
    high: int


class ObserverValue(NamedTuple):
    kind: str
    measure: str
    recording_id: uuid.UUID
    reviewer_id: uuid.UUID
    value: float


class CalibrationPair(NamedTuple):
    reviewer_id: uuid.UUID
    recording_id: uuid.UUID
    measure: str
    value: float
    reference: float
    submitted_at: dt.datetime | None


def _summed(
    table: Any,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
    *,
    by_period: bool,
) -> Select[Any]:
    """``table``'s rows summed over ``roles``, as :class:`RollupSums` (per period start, or with none)."""
    keys: list[Any] = [table.therapist_id, table.measure_kind, table.measure]
    start = table.day if by_period else null()
    stmt = select(
        *keys,
        start,
        func.sum(table.n),
        func.sum(table.total),
        func.sum(table.total_sq),
        func.min(table.min),
        func.max(table.max),
    ).where(
        table.org_id == org_id,
        table.rubric_key == rubric_key,
        table.rubric_version == rubric_version,
        table.role.in_(roles),
    )
    if therapist_ids is not None:
        stmt = stmt.where(table.therapist_id.in_(therapist_ids))
    return stmt.group_by(*keys, *([start] if by_period else []))


def _pieces(grain: Period, first: dt.date | None, last: dt.date | None) -> list[tuple[Period, Any, Any]]:
    """How to cover the days ``first``..``last`` (inclusive, ``None``: open) with as few rows as possible: the
    whole periods of ``grain`` inside the range, and the days at either edge that cut a period."""
    days_only: list[tuple[Period, Any, Any]] = [(RollupDay, first, last)]
    whole_from = first  # the start of the first whole period
    if first is not None and period_start(grain, first) != first:
        whole_from = day_after(period_end(grain, period_start(grain, first)))
        if whole_from is None:
            return days_only
    whole_to = last  # the start of the last whole period
    if last is not None:
        whole_to = period_start(grain, last)
        if period_end(grain, whole_to) != last:
            if whole_to == dt.date.min:
                return days_only
            whole_to = period_start(grain, whole_to - dt.timedelta(days=1))
    if whole_from is not None and whole_to is not None and whole_from > whole_to:
        return days_only
    pieces: list[tuple[Period, Any, Any]] = [(grain, whole_from, whole_to)]
    if first is not None and whole_from is not None and first < whole_from:
        pieces.append((RollupDay, first, whole_from - dt.timedelta(days=1)))
    if last is not None and whole_to is not None and period_end(grain, whole_to) < last:
        pieces.append((RollupDay, day_after(period_end(grain, whole_to)), last))
    return pieces


async def read_sums(
    tx: Tx,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    *,
    grain: Literal["week", "month"],
    by_period: bool,
) -> list[RollupSums]:
    """Rollups summed over ``roles`` for the days ``first``..``last`` (``None``: open): per therapist, measure
    and period start (``by_period``; a day at a cut edge counts as its own period start), or over the range in
    pieces to add up (``start`` null; without a range, the all-time rows). Reads whole ``grain`` periods and only
    the cut edges' days, so the cost follows the periods asked for."""
    if first is None and last is None and not by_period:
        stmt = _summed(RollupTotal, org_id, therapist_ids, rubric_key, rubric_version, roles, by_period=False)
        return list(map(RollupSums._make, await tx.execute(stmt)))
    rows: list[RollupSums] = []
    for table, low, high in _pieces(RollupWeek if grain == "week" else RollupMonth, first, last):
        stmt = _summed(table, org_id, therapist_ids, rubric_key, rubric_version, roles, by_period=by_period)
        if low is not None:
            stmt = stmt.where(table.day >= low)
        if high is not None:
            stmt = stmt.where(table.day <= high)
        rows += map(RollupSums._make, await tx.execute(stmt))
    return rows


async def next_consent_expiry(tx: Tx, org_id: uuid.UUID, now: dt.datetime) -> dt.datetime | None:
    """The next moment a consent in the organisation expires: it may take sessions out of the rollups."""
    expiry: dt.datetime | None = await tx.scalar(
        select(func.min(Recording.consent_expires_at)).where(
            Recording.org_id == org_id, Recording.consent_expires_at > now
        )
    )
    return expiry


def _readable(viewer: Viewer) -> list[Any]:
    """The score's review is one ``viewer`` may read (the reviews' own rule: blind review, drafts, consent)."""
    return [Review.org_id == ReviewScore.org_id, Review.id == ReviewScore.review_id, viewer.may_see_review()]


async def self_and_observers(
    tx: Tx,
    viewer: Viewer,
    therapist_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    observers: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
) -> list[SelfAndObservers]:
    """Per recording rated by the therapist and by observers, counting only reviews the viewer may read."""
    mine = [
        *_readable(viewer),
        ReviewScore.org_id == viewer.org_id,
        ReviewScore.therapist_id == therapist_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
    ]
    if first is not None:
        mine.append(ReviewScore.local_day >= first)
    if last is not None:
        mine.append(ReviewScore.local_day <= last)
    observed = (
        select(
            ReviewScore.recording_id,
            ReviewScore.measure_kind,
            ReviewScore.measure,
            func.avg(ReviewScore.value).label("mean"),
        )
        .where(*mine, ReviewScore.role.in_(observers))
        .group_by(ReviewScore.recording_id, ReviewScore.measure_kind, ReviewScore.measure)
        .subquery()
    )
    stmt = select(ReviewScore.measure_kind, ReviewScore.measure, ReviewScore.value, observed.c.mean).join(
        observed,
        and_(
            observed.c.recording_id == ReviewScore.recording_id,
            observed.c.measure_kind == ReviewScore.measure_kind,
            observed.c.measure == ReviewScore.measure,
        ),
    )
    rows = await tx.execute(stmt.where(*mine, ReviewScore.role == "self"))
    return [SelfAndObservers(kind, measure, float(own), float(mean)) for kind, measure, own, mean in rows]


async def case_scores(
    tx: Tx, viewer: Viewer, case_id: uuid.UUID, rubric_key: str, rubric_version: str, kind: str, measure: str
) -> list[CaseScore]:
    """The measure's scores in the case, from the reviews the viewer may read."""
    stmt = select(
        ReviewScore.session_number,
        ReviewScore.recording_id,
        ReviewScore.occurred_at,
        ReviewScore.role,
        ReviewScore.reviewer_id,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == viewer.org_id,
        ReviewScore.case_id == case_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.measure_kind == kind,
        ReviewScore.measure == measure,
        *_readable(viewer),
    )
    return list(map(CaseScore._make, await tx.execute(stmt)))


class RoleValue(NamedTuple):
    recording_id: uuid.UUID
    session_number: int
    occurred_at: dt.datetime
    role: str
    value: float


async def role_values(
    tx: Tx,
    viewer: Viewer,
    therapist_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    kind: str,
    measure: str,
    roles: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
) -> list[RoleValue]:
    """One measure of a therapist's sessions, per review in one of ``roles`` the viewer may read."""
    stmt = select(
        ReviewScore.recording_id,
        ReviewScore.session_number,
        ReviewScore.occurred_at,
        ReviewScore.role,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == viewer.org_id,
        ReviewScore.therapist_id == therapist_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.measure_kind == kind,
        ReviewScore.measure == measure,
        ReviewScore.role.in_(roles),
        *_readable(viewer),
    )
    if first is not None:
        stmt = stmt.where(ReviewScore.local_day >= first)
    if last is not None:
        stmt = stmt.where(ReviewScore.local_day <= last)
    return list(map(RoleValue._make, await tx.execute(stmt)))


class RatedResponses(NamedTuple):
    recording_id: uuid.UUID
    reviewer_id: uuid.UUID | None
    responses: dict[str, Any]


async def rated_responses(
    tx: Tx,
    viewer: Viewer,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
    *,
    therapist_id: uuid.UUID | None,
    first: dt.date | None,
    last: dt.date | None,
) -> list[RatedResponses]:
    """The responses of current submitted reviews in ``roles`` the viewer may read (segment codings)."""
    stmt = select(Review.recording_id, Review.reviewer_id, Review.responses).where(
        Review.org_id == viewer.org_id,
        Review.rubric_key == rubric_key,
        Review.rubric_version == rubric_version,
        Review.role.in_(roles),
        Review.state != "draft",
        Review.superseded_by_id.is_(None),
        viewer.may_see_review(),
    )
    if therapist_id is not None:
        stmt = stmt.where(Review.therapist_id == therapist_id)
    if first is not None or last is not None:
        day = [ReviewScore.org_id == Review.org_id, ReviewScore.review_id == Review.id]
        day += [ReviewScore.local_day >= first] if first is not None else []
        day += [ReviewScore.local_day <= last] if last is not None else []
        stmt = stmt.where(exists().where(*day))
    return list(map(RatedResponses._make, await tx.execute(stmt)))


async def usefulness(tx: Tx, org_id: uuid.UUID, reviewer_id: uuid.UUID | None) -> list[UsefulnessSums]:
    """Per reviewer, the usefulness ratings therapists gave their reviews: the current revisions only (an
    amended review's earlier acknowledgement was of responses that no longer stand)."""
    stmt = select(
        Review.reviewer_id,
        func.count(),
        func.sum(Review.usefulness),
        func.sum(Review.usefulness * Review.usefulness),
        func.min(Review.usefulness),
        func.max(Review.usefulness),
    ).where(Review.org_id == org_id, Review.usefulness.is_not(None), Review.superseded_by_id.is_(None))
    if reviewer_id is not None:
        stmt = stmt.where(Review.reviewer_id == reviewer_id)
    return list(
        map(UsefulnessSums._make, await tx.execute(stmt.group_by(Review.reviewer_id).order_by(Review.reviewer_id)))
    )


def _flags(viewer: Viewer, therapist_id: uuid.UUID | None, severities: Sequence[str]) -> Select[ReviewFlag]:
    stmt = (
        select(ReviewFlag)
        .join(Review, and_(Review.org_id == ReviewFlag.org_id, Review.id == ReviewFlag.review_id))
        .where(ReviewFlag.org_id == viewer.org_id, ReviewFlag.severity.in_(severities), viewer.may_see_review())
    )
    if therapist_id is not None:
        stmt = stmt.where(ReviewFlag.therapist_id == therapist_id)
    return stmt


async def page_flags(
    tx: Tx,
    viewer: Viewer,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    therapist_id: uuid.UUID | None,
    severities: Sequence[str],
) -> Page[ReviewFlag]:
    """Flags of reviews the viewer may read, newest first."""
    stmt = _flags(viewer, therapist_id, severities)
    return await fetch_page(tx, stmt, ReviewFlag.created_at, ReviewFlag.id, page, cursors, descending=True)


async def observer_values(
    tx: Tx,
    viewer: Viewer,
    rubric_key: str,
    rubric_version: str,
    observers: Sequence[str],
    *,
    therapist_id: uuid.UUID | None,
    first: dt.date | None,
    last: dt.date | None,
) -> list[ObserverValue]:
    """Observers' scores of the reviews the viewer may read."""
    stmt = select(
        ReviewScore.measure_kind,
        ReviewScore.measure,
        ReviewScore.recording_id,
        ReviewScore.reviewer_id,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == viewer.org_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.role.in_(observers),
        *_readable(viewer),
    )
    if therapist_id is not None:
        stmt = stmt.where(ReviewScore.therapist_id == therapist_id)
    if first is not None:
        stmt = stmt.where(ReviewScore.local_day >= first)
    if last is not None:
        stmt = stmt.where(ReviewScore.local_day <= last)
    return list(map(ObserverValue._make, await tx.execute(stmt)))


async def calibration_pairs(
    tx: Tx,
    org_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    reviewer_id: uuid.UUID | None,
    roles: Sequence[str],
) -> list[CalibrationPair]:
    """Every item another reviewer rated in one of ``roles`` on a recording that has a reference review with the
    same rubric version, beside the reference's value."""
    reference = aliased(ReviewScore)
    rater_review = aliased(Review)
    stmt = (
        select(
            ReviewScore.reviewer_id,
            ReviewScore.recording_id,
            ReviewScore.measure,
            ReviewScore.value,
            reference.value,
            rater_review.submitted_at,
        )
        .join(
            ReferenceReview,
            and_(
                ReferenceReview.org_id == ReviewScore.org_id,
                ReferenceReview.recording_id == ReviewScore.recording_id,
                ReferenceReview.rubric_key == ReviewScore.rubric_key,
                ReferenceReview.rubric_version == ReviewScore.rubric_version,
            ),
        )
        .join(
            reference,
            and_(
                reference.org_id == ReferenceReview.org_id,
                reference.review_id == ReferenceReview.review_id,
                reference.measure_kind == ReviewScore.measure_kind,
                reference.measure == ReviewScore.measure,
            ),
        )
        .join(rater_review, and_(rater_review.org_id == ReviewScore.org_id, rater_review.id == ReviewScore.review_id))
        .where(
            ReviewScore.org_id == org_id,
            ReviewScore.rubric_key == rubric_key,
            ReviewScore.rubric_version == rubric_version,
            ReviewScore.measure_kind == "item",
            ReviewScore.review_id != ReferenceReview.review_id,
            ReviewScore.role.in_(roles),
        )
    )
    if reviewer_id is not None:
        stmt = stmt.where(ReviewScore.reviewer_id == reviewer_id)
    return list(map(CalibrationPair._make, await tx.execute(stmt)))
