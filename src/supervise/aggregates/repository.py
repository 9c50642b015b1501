"""Named queries over review scores and their rollups: upserts that add, recomputation, and reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, cast, delete, exists, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from supervise.aggregates.tables import (
    ConsentSweep,
    ReferenceReview,
    ReviewFlag,
    ReviewScore,
    RollupDay,
    RollupMonth,
    RollupTotal,
    RollupWeek,
)
from supervise.recordings import repository as recordings
from supervise.recordings.tables import Recording
from supervise.reviews.tables import Review, ReviewRequest

__all__ = [
    "PERIODS",
    "ROLLUPS",
    "Cell",
    "add_to_rollups",
    "calibration_pairs",
    "case_scores",
    "consent_expired_between",
    "delete_scores",
    "insert_scores",
    "mark_swept",
    "next_consent_expiry",
    "observer_values",
    "owed_therapists",
    "period_end",
    "period_start",
    "read_periods",
    "read_total",
    "recompute",
    "recount",
    "replace_rollups",
    "select_flags",
    "self_and_observers",
    "stored",
    "swept_until",
    "usefulness",
]

Period = type[RollupDay] | type[RollupWeek] | type[RollupMonth]
Rollup = Period | type[RollupTotal]
PERIODS: tuple[Period, ...] = (RollupDay, RollupWeek, RollupMonth)
ROLLUPS: tuple[Rollup, ...] = (*PERIODS, RollupTotal)
_KEY = ("org_id", "therapist_id", "rubric_key", "rubric_version", "measure_kind", "measure", "role")

Cell = tuple[Any, ...]
"""A rollup key: ``_KEY`` (plus ``day``, the first day of the period, for periodic rows)."""


def _dialect(tx: AsyncSession) -> str:
    return tx.get_bind().dialect.name


def period_start(table: Rollup, day: dt.date) -> dt.date:
    """The first day of the period of ``table`` that holds ``day``."""
    if table is RollupWeek:
        return day - dt.timedelta(days=day.weekday())
    if table is RollupMonth:
        return day.replace(day=1)
    return day


def period_end(table: Rollup, start: dt.date) -> dt.date:
    """The last day of the period of ``table`` that starts on ``start`` (cut at the last representable day)."""
    try:
        if table is RollupWeek:
            return start + dt.timedelta(days=6)
        if table is RollupMonth:
            following = (
                start.replace(year=start.year + 1, month=1)
                if start.month == 12
                else start.replace(month=start.month + 1)
            )
            return following - dt.timedelta(days=1)
    except (OverflowError, ValueError):
        return dt.date.max
    return start


def _day_after(day: dt.date) -> dt.date | None:
    return None if day == dt.date.max else day + dt.timedelta(days=1)


def _upsert(tx: AsyncSession, table: Rollup, rows: list[dict[str, Any]]) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE`` adding the new counts and sums to what is there."""
    if _dialect(tx) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(rows)
        least: Any = func.least
        greatest: Any = func.greatest
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(rows)
        least, greatest = func.min, func.max  # two-argument min/max are scalar in SQLite
    key = list(_KEY) if table is RollupTotal else [*_KEY, "day"]
    return stmt.on_conflict_do_update(
        index_elements=key,
        set_={
            "n": table.n + stmt.excluded.n,
            "total": table.total + stmt.excluded.total,
            "total_sq": table.total_sq + stmt.excluded.total_sq,
            "min": least(table.min, stmt.excluded.min),
            "max": greatest(table.max, stmt.excluded.max),
        },
    )


def _day(occurred_at: dt.datetime) -> dt.date:
    return occurred_at.astimezone(dt.UTC).date()


async def insert_scores(tx: AsyncSession, scores: Sequence[dict[str, Any]]) -> None:
    if scores:
        await tx.execute(insert(ReviewScore), list(scores))


async def add_to_rollups(tx: AsyncSession, scores: Sequence[dict[str, Any]]) -> None:
    """Add one review's scores to the daily, weekly, monthly and all-time rollups (one statement each; rows in
    key order and tables in one order, so concurrent submissions lock them in the same order)."""
    if not scores:
        return
    entries = sorted(scores, key=lambda score: tuple(str(score[k]) for k in _KEY))
    totals = [
        {
            **{k: score[k] for k in _KEY},
            "n": 1,
            "total": score["value"],
            "total_sq": score["value"] * score["value"],
            "min": score["value"],
            "max": score["value"],
        }
        for score in entries
    ]
    for table in PERIODS:
        rows = [
            {**row, "day": period_start(table, _day(score["occurred_at"]))}
            for row, score in zip(totals, entries, strict=True)
        ]
        await tx.execute(_upsert(tx, table, rows))
    await tx.execute(_upsert(tx, RollupTotal, totals))


async def delete_scores(tx: AsyncSession, org_id: uuid.UUID, review_id: uuid.UUID) -> list[ReviewScore]:
    rows = list(
        await tx.scalars(select(ReviewScore).where(ReviewScore.org_id == org_id, ReviewScore.review_id == review_id))
    )
    await tx.execute(delete(ReviewScore).where(ReviewScore.org_id == org_id, ReviewScore.review_id == review_id))
    return rows


def _period_of_score(tx: AsyncSession, table: Rollup) -> Any:
    """SQL for the first day (UTC) of the period of ``table`` a score's session falls in. SQLite keeps naive
    UTC text; PostgreSQL would otherwise convert in the session's time zone."""
    if _dialect(tx) == "postgresql":
        utc = func.timezone("UTC", ReviewScore.occurred_at)
        if table is RollupDay:
            return cast(utc, Date)
        return cast(func.date_trunc("week" if table is RollupWeek else "month", utc), Date)
    if table is RollupWeek:
        return func.date(ReviewScore.occurred_at, "weekday 0", "-6 days")  # the Monday on or before
    if table is RollupMonth:
        return func.date(ReviewScore.occurred_at, "start of month")
    return func.date(ReviewScore.occurred_at)


def _aggregate(tx: AsyncSession, table: Rollup) -> list[Any]:
    columns: list[Any] = [getattr(ReviewScore, k) for k in _KEY]
    if table is not RollupTotal:
        columns.append(_period_of_score(tx, table).label("day"))
    return columns


async def recompute(
    tx: AsyncSession, table: Rollup, *where: ColumnElement[bool]
) -> dict[Cell, tuple[int, float, float, float, float]]:
    """The rollup rows of ``table`` a full GROUP BY over the counted scores gives (optionally restricted)."""
    keys = _aggregate(tx, table)
    stmt = select(
        *keys,
        func.count(),
        func.sum(ReviewScore.value),
        func.sum(ReviewScore.value * ReviewScore.value),
        func.min(ReviewScore.value),
        func.max(ReviewScore.value),
    ).where(*where)
    result = await tx.execute(stmt.where(ReviewScore.counted.is_(True)).group_by(*keys))
    width = len(keys)
    return {
        tuple(_normal(v) for v in row[:width]): (int(row[width]), *map(float, row[width + 1 :]))  # type: ignore[misc]
        for row in result
    }


def _normal(value: Any) -> Any:
    """Key values as both databases and both tables give them (SQLite's date() is a string)."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return dt.date.fromisoformat(value)
    return value


async def stored(
    tx: AsyncSession, table: Rollup, *where: ColumnElement[bool]
) -> dict[Cell, tuple[int, float, float, float, float]]:
    keys = [getattr(table, k) for k in _KEY] + ([] if table is RollupTotal else [table.__table__.c.day])
    result = await tx.execute(select(*keys, table.n, table.total, table.total_sq, table.min, table.max).where(*where))
    width = len(keys)
    return {tuple(row[:width]): (int(row[width]), *map(float, row[width + 1 :])) for row in result}  # type: ignore[misc]


async def replace_rollups(
    tx: AsyncSession,
    org_id: uuid.UUID,
    therapist_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    role: str,
    measures: Iterable[tuple[str, str]],
    days: Iterable[dt.date],
) -> None:
    """Recompute, from the scores, the rollup rows of these measures (in the periods holding these days, and
    over all time): how an amendment takes the superseded revision's values out exactly (min and max cannot be
    subtracted)."""
    measures, days = sorted(set(measures)), sorted(set(days))
    if not measures:
        return
    same = (
        ReviewScore.org_id == org_id,
        ReviewScore.therapist_id == therapist_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.role == role,
        tuple_(ReviewScore.measure_kind, ReviewScore.measure).in_(measures),
    )
    for table in ROLLUPS:
        where = [
            table.org_id == org_id,
            table.therapist_id == therapist_id,
            table.rubric_key == rubric_key,
            table.rubric_version == rubric_version,
            table.role == role,
            tuple_(table.measure_kind, table.measure).in_(measures),
        ]
        scope = list(same)
        starts: list[dt.date] = []
        if table is not RollupTotal:
            starts = sorted({period_start(table, day) for day in days})
            where.append(table.__table__.c.day.in_(starts))
            scope.append(
                and_(
                    ReviewScore.occurred_at >= _start(starts[0]),
                    ReviewScore.occurred_at < _end(period_end(table, starts[-1])),
                )
            )
        await tx.execute(delete(table).where(*where))
        fresh = await recompute(tx, table, *scope)
        rows = [
            {
                **dict(zip(list(_KEY) if table is RollupTotal else [*_KEY, "day"], key, strict=True)),
                "n": n,
                "total": total,
                "total_sq": total_sq,
                "min": low,
                "max": high,
            }
            for key, (n, total, total_sq, low, high) in sorted(fresh.items(), key=lambda item: str(item[0]))
            if table is RollupTotal or key[-1] in starts
        ]
        if rows:
            await tx.execute(insert(table), rows)


def _start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _end(day: dt.date) -> dt.datetime:
    if day == dt.date.max:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return _start(day) + dt.timedelta(days=1)


def _sums(table: Rollup) -> list[Any]:
    return [
        func.sum(table.n),
        func.sum(table.total),
        func.sum(table.total_sq),
        func.min(table.min),
        func.max(table.max),
    ]


def _pieces(grain: Period, first: dt.date | None, last: dt.date | None) -> list[tuple[Period, Any, Any]]:
    """How to cover the days ``first``..``last`` (inclusive, ``None``: open) with as few rows as possible: the
    whole periods of ``grain`` inside the range, and the days at either edge that cut a period."""
    days_only: list[tuple[Period, Any, Any]] = [(RollupDay, first, last)]
    whole_from = first  # the start of the first whole period
    if first is not None and period_start(grain, first) != first:
        whole_from = _day_after(period_end(grain, period_start(grain, first)))
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
        pieces.append((RollupDay, _day_after(period_end(grain, whole_to)), last))
    return pieces


async def read_periods(
    tx: AsyncSession,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    *,
    grain: Period,
    by_period: bool,
) -> list[Any]:
    """Rollups summed over ``roles`` for the days ``first``..``last``: per therapist, measure and period start
    (``by_period``; a day at a cut edge counts as its own period start), or over the whole range. Reads whole
    ``grain`` periods and only the cut edges' days, so the cost follows the periods asked for."""
    rows: list[Any] = []
    for table, low, high in _pieces(grain, first, last):
        keys: list[Any] = [table.therapist_id, table.measure_kind, table.measure]
        if by_period:
            keys.append(table.day)
        stmt = select(*keys, *_sums(table)).where(
            table.org_id == org_id,
            table.rubric_key == rubric_key,
            table.rubric_version == rubric_version,
            table.role.in_(roles),
        )
        if therapist_ids is not None:
            stmt = stmt.where(table.therapist_id.in_(therapist_ids))
        if low is not None:
            stmt = stmt.where(table.day >= low)
        if high is not None:
            stmt = stmt.where(table.day <= high)
        rows += await tx.execute(stmt.group_by(*keys))
    return rows


async def read_total(
    tx: AsyncSession,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    roles: Sequence[str],
) -> list[Any]:
    """All-time rollups summed over ``roles``: per therapist and measure."""
    keys = [RollupTotal.therapist_id, RollupTotal.measure_kind, RollupTotal.measure]
    stmt = select(*keys, *_sums(RollupTotal)).where(
        RollupTotal.org_id == org_id,
        RollupTotal.rubric_key == rubric_key,
        RollupTotal.rubric_version == rubric_version,
        RollupTotal.role.in_(roles),
    )
    if therapist_ids is not None:
        stmt = stmt.where(RollupTotal.therapist_id.in_(therapist_ids))
    return list(await tx.execute(stmt.group_by(*keys)))


async def recount(tx: AsyncSession, org_id: uuid.UUID, recording_id: uuid.UUID, counted: bool) -> list[Any]:
    """Mark a recording's scores as counted in the rollups or not; the rows that changed, as
    ``(therapist, rubric key, version, role, kind, measure, occurred_at)``."""
    result = await tx.execute(
        update(ReviewScore)
        .where(
            ReviewScore.org_id == org_id,
            ReviewScore.recording_id == recording_id,
            ReviewScore.counted.is_not(counted),
        )
        .values(counted=counted)
        .returning(
            ReviewScore.therapist_id,
            ReviewScore.rubric_key,
            ReviewScore.rubric_version,
            ReviewScore.role,
            ReviewScore.measure_kind,
            ReviewScore.measure,
            ReviewScore.occurred_at,
        )
    )
    return list(result)


async def consent_expired_between(
    tx: AsyncSession, org_id: uuid.UUID, after: dt.datetime | None, until: dt.datetime
) -> list[uuid.UUID]:
    """Recordings whose consent expired in ``(after, until]`` (an index range: only the newly expired)."""
    stmt = select(Recording.id).where(Recording.org_id == org_id, Recording.consent_expires_at <= until)
    if after is not None:
        stmt = stmt.where(Recording.consent_expires_at > after)
    return list(await tx.scalars(stmt))


async def next_consent_expiry(tx: AsyncSession, org_id: uuid.UUID, now: dt.datetime) -> dt.datetime | None:
    expiry: dt.datetime | None = await tx.scalar(
        select(func.min(Recording.consent_expires_at)).where(
            Recording.org_id == org_id, Recording.consent_expires_at > now
        )
    )
    return expiry


async def swept_until(tx: AsyncSession, org_id: uuid.UUID) -> dt.datetime | None:
    stamp: dt.datetime | None = await tx.scalar(select(ConsentSweep.swept_until).where(ConsentSweep.org_id == org_id))
    return stamp


async def mark_swept(tx: AsyncSession, org_id: uuid.UUID, until: dt.datetime) -> None:
    if _dialect(tx) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    later: Any = func.greatest if _dialect(tx) == "postgresql" else func.max  # max(a, b) is scalar in SQLite
    stmt = dialect_insert(ConsentSweep).values(org_id=org_id, swept_until=until)
    await tx.execute(
        stmt.on_conflict_do_update(
            index_elements=["org_id"], set_={"swept_until": later(ConsentSweep.swept_until, stmt.excluded.swept_until)}
        )
    )


async def self_and_observers(
    tx: AsyncSession,
    org_id: uuid.UUID,
    therapist_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    observers: Sequence[str],
    first: dt.date | None,
    last: dt.date | None,
    visible: ColumnElement[bool],
) -> list[Any]:
    """``(kind, measure, self value, observers' mean)`` per recording rated by both, counting only reviews
    ``visible`` (the reviews' own visibility predicate) lets the viewer see."""
    mine = [
        Review.org_id == ReviewScore.org_id,
        Review.id == ReviewScore.review_id,
        visible,
        ReviewScore.org_id == org_id,
        ReviewScore.therapist_id == therapist_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
    ]
    if first is not None:
        mine.append(ReviewScore.occurred_at >= _start(first))
    if last is not None:
        mine.append(ReviewScore.occurred_at < _end(last))
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
    return list(await tx.execute(stmt.where(*mine, ReviewScore.role == "self")))


async def case_scores(
    tx: AsyncSession,
    org_id: uuid.UUID,
    case_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    kind: str,
    measure: str,
    visible: ColumnElement[bool],
) -> list[Any]:
    """The measure's scores in the case, from the reviews ``visible`` lets the viewer see."""
    stmt = select(
        ReviewScore.session_number,
        ReviewScore.recording_id,
        ReviewScore.occurred_at,
        ReviewScore.role,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == org_id,
        ReviewScore.case_id == case_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.measure_kind == kind,
        ReviewScore.measure == measure,
        Review.org_id == ReviewScore.org_id,
        Review.id == ReviewScore.review_id,
        visible,
    )
    return list(await tx.execute(stmt))


async def usefulness(tx: AsyncSession, org_id: uuid.UUID, reviewer_id: uuid.UUID | None) -> list[Any]:
    stmt = select(
        Review.reviewer_id,
        func.count(),
        func.sum(Review.usefulness),
        func.sum(Review.usefulness * Review.usefulness),
        func.min(Review.usefulness),
        func.max(Review.usefulness),
    ).where(Review.org_id == org_id, Review.usefulness.is_not(None))
    if reviewer_id is not None:
        stmt = stmt.where(Review.reviewer_id == reviewer_id)
    return list(await tx.execute(stmt.group_by(Review.reviewer_id).order_by(Review.reviewer_id)))


async def owed_therapists(
    tx: AsyncSession, org_id: uuid.UUID, member_id: uuid.UUID, now: dt.datetime
) -> set[uuid.UUID]:
    """Therapists of whose sessions ``member_id`` still owes a first review (a live request or a first
    draft) that can still be given: blind review keeps their figures from this member until it is submitted.
    A session whose consent ended can no longer be reviewed, so it no longer blinds anyone."""
    consented = exists().where(Recording.org_id == org_id, recordings.consent_holds(now))
    requested = select(ReviewRequest.therapist_id).where(
        ReviewRequest.org_id == org_id,
        ReviewRequest.reviewer_id == member_id,
        ReviewRequest.state.in_(("open", "in_progress")),
        consented.where(Recording.id == ReviewRequest.recording_id),
    )
    drafting = select(Review.therapist_id).where(
        Review.org_id == org_id,
        Review.reviewer_id == member_id,
        Review.state == "draft",
        Review.revision == 1,
        consented.where(Recording.id == Review.recording_id),
    )
    return set((await tx.scalars(requested.union(drafting))).all())


def select_flags(
    org_id: uuid.UUID, visible: ColumnElement[bool], *, therapist_id: uuid.UUID | None, severities: Sequence[str]
) -> Any:
    """Flags of reviews ``visible`` lets the viewer see."""
    stmt = (
        select(ReviewFlag)
        .join(Review, and_(Review.org_id == ReviewFlag.org_id, Review.id == ReviewFlag.review_id))
        .where(ReviewFlag.org_id == org_id, ReviewFlag.severity.in_(severities), visible)
    )
    if therapist_id is not None:
        stmt = stmt.where(ReviewFlag.therapist_id == therapist_id)
    return stmt


async def observer_values(
    tx: AsyncSession,
    org_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    observers: Sequence[str],
    visible: ColumnElement[bool],
    *,
    therapist_id: uuid.UUID | None,
    first: dt.date | None,
    last: dt.date | None,
) -> list[Any]:
    """``(kind, measure, recording, reviewer, value)`` of observers' scores the viewer may see."""
    stmt = select(
        ReviewScore.measure_kind,
        ReviewScore.measure,
        ReviewScore.recording_id,
        ReviewScore.reviewer_id,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == org_id,
        ReviewScore.rubric_key == rubric_key,
        ReviewScore.rubric_version == rubric_version,
        ReviewScore.role.in_(observers),
        Review.org_id == ReviewScore.org_id,
        Review.id == ReviewScore.review_id,
        visible,
    )
    if therapist_id is not None:
        stmt = stmt.where(ReviewScore.therapist_id == therapist_id)
    if first is not None:
        stmt = stmt.where(ReviewScore.occurred_at >= _start(first))
    if last is not None:
        stmt = stmt.where(ReviewScore.occurred_at < _end(last))
    return list(await tx.execute(stmt))


async def calibration_pairs(
    tx: AsyncSession, org_id: uuid.UUID, rubric_key: str, rubric_version: str, reviewer_id: uuid.UUID | None
) -> list[Any]:
    """``(reviewer, recording, item, rater value, reference value, submitted_at)`` for every item another
    reviewer rated on a recording that has a reference review with the same rubric version."""
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
        )
    )
    if reviewer_id is not None:
        stmt = stmt.where(ReviewScore.reviewer_id == reviewer_id)
    return list(await tx.execute(stmt))
