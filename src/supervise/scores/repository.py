"""Named queries over review scores, flags and their rollups: upserts that add, recomputation, consent sweeps."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Date, and_, cast, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.db import Tx
from supervise.members.tables import Organisation
from supervise.recordings.tables import Recording
from supervise.reviews.tables import Review
from supervise.scores.periods import PERIODS, ROLLUPS, Rollup, period_end, period_start
from supervise.scores.tables import ConsentSweep, ReviewFlag, ReviewScore, RollupDay, RollupTotal, RollupWeek

__all__ = [
    "CaseScore",
    "Cell",
    "Changed",
    "Measure",
    "Sums",
    "add_sums",
    "add_to_rollups",
    "consent_expired_between",
    "delete_scores",
    "has_scores",
    "insert_scores",
    "mark_swept",
    "rater_case_scores",
    "recomputed",
    "recording",
    "recount",
    "replace_change_flags",
    "replace_flags",
    "replace_rollups",
    "score_count",
    "stored",
    "submitted_at",
    "swept_until",
    "time_zone",
]

_KEY = ("org_id", "therapist_id", "rubric_key", "rubric_version", "measure_kind", "measure", "role")

Cell = tuple[Any, ...]
"""A rollup row's key: ``_KEY`` (plus ``day``, the first day of the period, for periodic rows)."""


class Sums(NamedTuple):
    """What a rollup row holds."""

    n: int
    total: float
    total_sq: float
    min: float
    max: float


class Measure(NamedTuple):
    kind: str
    key: str


class Changed(NamedTuple):
    """A score whose ``counted`` changed, and the rollup rows it is in."""

    therapist_id: uuid.UUID
    rubric_key: str
    rubric_version: str
    role: str
    measure_kind: str
    measure: str
    local_day: dt.date


def _dialect(tx: AsyncSession) -> str:
    return tx.get_bind().dialect.name


async def recording(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID) -> Recording | None:
    """The recording of a score, whoever may see it: its consent decides what the rollups count."""
    return await tx.scalar(select(Recording).where(Recording.org_id == org_id, Recording.id == recording_id))


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


async def add_sums(tx: Tx, table: Rollup, rows: Sequence[dict[str, Any]]) -> None:
    """Add these counts and sums to the rollup rows with their keys (inserting those not there yet), in key order."""
    if rows:
        await tx.execute(_upsert(tx, table, sorted(rows, key=lambda row: tuple(str(row[k]) for k in sorted(row)))))


async def insert_scores(tx: Tx, scores: Sequence[dict[str, Any]]) -> None:
    if scores:
        await tx.execute(insert(ReviewScore), list(scores))


async def replace_flags(
    tx: Tx, org_id: uuid.UUID, replaced_review_id: uuid.UUID | None, flags: list[ReviewFlag]
) -> None:
    """Store a submission's flags, in place of those of the revision it amends."""
    if replaced_review_id is not None:
        await tx.execute(
            delete(ReviewFlag).where(ReviewFlag.org_id == org_id, ReviewFlag.review_id == replaced_review_id)
        )
    tx.add_all(flags)


class CaseScore(NamedTuple):
    review_id: uuid.UUID
    recording_id: uuid.UUID
    session_number: int
    measure_kind: str
    measure: str
    value: float


async def time_zone(tx: Tx, org_id: uuid.UUID) -> str:
    """The organisation's IANA time zone, which its sessions' days are counted in."""
    zone = await tx.scalar(select(Organisation.time_zone).where(Organisation.id == org_id))
    assert zone is not None  # every score's organisation exists
    return zone


async def has_scores(tx: Tx, org_id: uuid.UUID) -> bool:
    return await tx.scalar(select(ReviewScore.review_id).where(ReviewScore.org_id == org_id).limit(1)) is not None


async def rater_case_scores(
    tx: Tx,
    org_id: uuid.UUID,
    case_id: uuid.UUID,
    rubric_key: str,
    rubric_version: str,
    role: str,
    reviewer_id: uuid.UUID | None,
    measures: Sequence[str],
) -> list[CaseScore]:
    """One rater's current scores of ``measures`` over a case's sessions with one rubric version, in session
    order (a client rating's rater is the case's client: role ``client``, no reviewer)."""
    rater = ReviewScore.reviewer_id.is_(None) if reviewer_id is None else ReviewScore.reviewer_id == reviewer_id
    rows = await tx.execute(
        select(
            ReviewScore.review_id,
            ReviewScore.recording_id,
            ReviewScore.session_number,
            ReviewScore.measure_kind,
            ReviewScore.measure,
            ReviewScore.value,
        )
        .where(
            ReviewScore.org_id == org_id,
            ReviewScore.case_id == case_id,
            ReviewScore.rubric_key == rubric_key,
            ReviewScore.rubric_version == rubric_version,
            ReviewScore.role == role,
            rater,
            ReviewScore.measure.in_(measures),
        )
        .order_by(ReviewScore.session_number, ReviewScore.occurred_at, ReviewScore.review_id)
    )
    return list(map(CaseScore._make, rows))


async def replace_change_flags(
    tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID, codes: Sequence[str], flags: list[ReviewFlag]
) -> set[str]:
    """Replace a review's flags of the change rules ``codes`` (its neighbour session was rated meanwhile); the
    codes it had before."""
    deleted = await tx.execute(
        delete(ReviewFlag)
        .where(ReviewFlag.org_id == org_id, ReviewFlag.review_id == review_id, ReviewFlag.code.in_(codes))
        .returning(ReviewFlag.code)
    )
    tx.add_all(flags)
    return set(deleted.scalars())


async def submitted_at(tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID) -> dt.datetime:
    """When a review was submitted (what its flags are dated)."""
    at = await tx.scalar(select(Review.submitted_at).where(Review.org_id == org_id, Review.id == review_id))
    assert at is not None  # scores are only kept for submitted reviews
    return at


async def add_to_rollups(tx: Tx, scores: Sequence[dict[str, Any]]) -> None:
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
            {**row, "day": period_start(table, score["local_day"])} for row, score in zip(totals, entries, strict=True)
        ]
        await tx.execute(_upsert(tx, table, rows))
    await tx.execute(_upsert(tx, RollupTotal, totals))


async def delete_scores(tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID) -> list[Measure]:
    """Delete a review's scores; the measures they were of."""
    result = await tx.execute(
        delete(ReviewScore)
        .where(ReviewScore.org_id == org_id, ReviewScore.review_id == review_id)
        .returning(ReviewScore.measure_kind, ReviewScore.measure)
    )
    return [Measure._make(row) for row in result]


def _period_of_score(tx: AsyncSession, table: Rollup) -> Any:
    """SQL for the first day of the period of ``table`` a score's session falls in, from its local day."""
    if table is RollupDay:
        return ReviewScore.local_day
    if _dialect(tx) == "postgresql":
        return cast(func.date_trunc("week" if table is RollupWeek else "month", ReviewScore.local_day), Date)
    if table is RollupWeek:
        return func.date(ReviewScore.local_day, "weekday 0", "-6 days")  # the Monday on or before
    return func.date(ReviewScore.local_day, "start of month")


def _aggregate(tx: AsyncSession, table: Rollup) -> list[Any]:
    columns: list[Any] = [getattr(ReviewScore, k) for k in _KEY]
    if table is not RollupTotal:
        columns.append(_period_of_score(tx, table).label("day"))
    return columns


def _sums(row: Sequence[Any], width: int) -> Sums:
    n, total, total_sq, low, high = row[width:]
    return Sums(int(n), float(total), float(total_sq), float(low), float(high))


async def recomputed(tx: Tx, table: Rollup, org_ids: Sequence[uuid.UUID] | None) -> dict[Cell, Sums]:
    """The rollup rows of ``table`` a full GROUP BY over the counted scores gives (of these organisations)."""
    return await _recompute(tx, table, *([] if org_ids is None else [ReviewScore.org_id.in_(org_ids)]))


async def _recompute(tx: Tx, table: Rollup, *where: ColumnElement[bool]) -> dict[Cell, Sums]:
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
    return {tuple(_normal(v) for v in row[:width]): _sums(row, width) for row in result}


def _normal(value: Any) -> Any:
    """Key values as both databases and both tables give them (SQLite's date() is a string)."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return dt.date.fromisoformat(value)
    return value


async def stored(tx: Tx, table: Rollup, org_ids: Sequence[uuid.UUID] | None) -> dict[Cell, Sums]:
    """The rollup rows of ``table`` as stored (of these organisations)."""
    keys = [getattr(table, k) for k in _KEY] + ([] if table is RollupTotal else [table.__table__.c.day])
    stmt = select(*keys, table.n, table.total, table.total_sq, table.min, table.max)
    if org_ids is not None:
        stmt = stmt.where(table.org_id.in_(org_ids))
    result = await tx.execute(stmt)
    width = len(keys)
    return {tuple(row[:width]): _sums(row, width) for row in result}


async def replace_rollups(
    tx: Tx,
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
                and_(ReviewScore.local_day >= starts[0], ReviewScore.local_day <= period_end(table, starts[-1]))
            )
        await tx.execute(delete(table).where(*where))
        fresh = await _recompute(tx, table, *scope)
        names = list(_KEY) if table is RollupTotal else [*_KEY, "day"]
        rows = [
            {**dict(zip(names, key, strict=True)), **sums._asdict()}
            for key, sums in sorted(fresh.items(), key=lambda item: str(item[0]))
            if table is RollupTotal or key[-1] in starts
        ]
        if rows:
            await tx.execute(insert(table), rows)


async def recount(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, counted: bool) -> list[Changed]:
    """Mark a recording's scores as counted in the rollups or not; the scores that changed."""
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
            ReviewScore.local_day,
        )
    )
    return [Changed._make(row) for row in result]


async def consent_expired_between(
    tx: Tx, org_id: uuid.UUID, after: dt.datetime | None, until: dt.datetime
) -> list[Recording]:
    """Recordings whose consent expired in ``(after, until]`` (an index range: only the newly expired)."""
    stmt = select(Recording).where(Recording.org_id == org_id, Recording.consent_expires_at <= until)
    if after is not None:
        stmt = stmt.where(Recording.consent_expires_at > after)
    return list(await tx.scalars(stmt))


async def swept_until(tx: Tx, org_id: uuid.UUID) -> dt.datetime | None:
    stamp: dt.datetime | None = await tx.scalar(select(ConsentSweep.swept_until).where(ConsentSweep.org_id == org_id))
    return stamp


async def mark_swept(tx: Tx, org_id: uuid.UUID, until: dt.datetime) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    on_postgresql = _dialect(tx) == "postgresql"
    later: Any = func.greatest if on_postgresql else func.max  # max(a, b) is scalar in SQLite
    stmt: Any = (postgresql if on_postgresql else sqlite).insert(ConsentSweep).values(org_id=org_id, swept_until=until)
    await tx.execute(
        stmt.on_conflict_do_update(
            index_elements=["org_id"], set_={"swept_until": later(ConsentSweep.swept_until, stmt.excluded.swept_until)}
        )
    )


async def score_count(tx: Tx) -> int:
    return int(await tx.scalar(select(func.count()).select_from(ReviewScore)) or 0)
