"""Session rollups: the same day, week, month and all-time rows as the per-review rollups, for a rater set
``s:<set>`` (``s:observers``, ``s:supervisor``...), holding the count, sum, sum of squares, min and max of
session means: each session's value is the mean of its counted reviews by raters of the set.

A session's mean moves with every review of it, so a write is not added like a review: the recording's
means are read before and after it (:func:`means`), and each changed mean leaves the rows of its day, week,
month and all time and the new one enters (:func:`follow`). Count and sums shift exactly; min and max too,
unless the mean leaving was the row's min or max, when that row is recomputed from the scores.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, cast, delete, func, insert, literal, select, update

from supervise.db import Tx
from supervise.scores.periods import ROLLUPS, Rollup, period_end, period_start
from supervise.scores.repository import Cell, Sums
from supervise.scores.tables import ReviewScore, RollupDay, RollupTotal, RollupWeek

__all__ = ["SETS", "Means", "follow", "means", "recomputed", "sets_of"]

SETS: dict[str, tuple[str, ...]] = {
    "s:supervisor": ("supervisor",),
    "s:peer": ("peer",),
    "s:self": ("self",),
    "s:client": ("client",),
    "s:observers": ("supervisor", "peer"),
}
"""Each session rollup's rater set, by the ``role`` its rows carry."""


def sets_of(role: str) -> list[str]:
    """The rater sets a review in ``role`` belongs to."""
    return [name for name, roles in SETS.items() if role in roles]


def _period(tx: Tx, table: Rollup, day: Any) -> Any:
    if table is RollupDay:
        return day
    grain = "week" if table is RollupWeek else "month"
    if tx.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc(grain, day), Date)
    if grain == "week":
        return func.date(day, "weekday 0", "-6 days", type_=Date)  # the Monday on or before
    return func.date(day, "start of month", type_=Date)


async def _recompute(tx: Tx, table: Rollup, name: str, *where: ColumnElement[bool]) -> dict[Cell, Sums]:
    """``table``'s rows for the rater set ``name`` from the counted scores ``where`` selects."""
    keys = (
        ReviewScore.org_id,
        ReviewScore.therapist_id,
        ReviewScore.rubric_key,
        ReviewScore.rubric_version,
        ReviewScore.measure_kind,
        ReviewScore.measure,
    )
    per_session = (
        select(*keys, func.min(ReviewScore.local_day).label("day"), func.avg(ReviewScore.value).label("mean"))
        .where(ReviewScore.counted.is_(True), ReviewScore.role.in_(SETS[name]), *where)
        .group_by(*keys, ReviewScore.recording_id)
        .subquery()
    )
    s = per_session.c
    group = [s.org_id, s.therapist_id, s.rubric_key, s.rubric_version, s.measure_kind, s.measure]
    if table is not RollupTotal:
        group.append(_period(tx, table, s.day))
    stmt = select(
        *group[:6],
        literal(name),
        *group[6:],
        func.count(),
        func.sum(s.mean),
        func.sum(s.mean * s.mean),
        func.min(s.mean),
        func.max(s.mean),
    ).group_by(*group)
    cells = {}
    for row in await tx.execute(stmt):
        width = len(row) - 5
        key = tuple(_day(v) if i == 7 else v for i, v in enumerate(row[:width]))
        n, total, total_sq, low, high = row[width:]
        cells[key] = Sums(int(n), float(total), float(total_sq), float(low), float(high))
    return cells


def _day(value: Any) -> Any:
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


async def recomputed(tx: Tx, table: Rollup, org_ids: Sequence[uuid.UUID] | None) -> dict[Cell, Sums]:
    """Every session rollup row of ``table`` a full recomputation gives (of these organisations)."""
    where = [] if org_ids is None else [ReviewScore.org_id.in_(org_ids)]
    cells: dict[Cell, Sums] = {}
    for name in SETS:
        cells |= await _recompute(tx, table, name, *where)
    return cells


Means = dict[tuple[Any, ...], tuple[float, dt.date]]
"""One recording's session means: (org, therapist, rubric key, version, measure kind, measure, rater set) to
(mean, local day)."""

_NAMES = ("org_id", "therapist_id", "rubric_key", "rubric_version", "measure_kind", "measure", "role")


async def means(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID) -> Means:
    """A recording's session means per rater set and measure, over its counted scores."""
    stmt = (
        select(
            ReviewScore.org_id,
            ReviewScore.therapist_id,
            ReviewScore.rubric_key,
            ReviewScore.rubric_version,
            ReviewScore.measure_kind,
            ReviewScore.measure,
            ReviewScore.role,
            func.min(ReviewScore.local_day),
            func.sum(ReviewScore.value),
            func.count(),
        )
        .where(ReviewScore.org_id == org_id, ReviewScore.recording_id == recording_id, ReviewScore.counted.is_(True))
        .group_by(*(getattr(ReviewScore, name) for name in _NAMES))
    )
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for *cell, role, day, total, n in await tx.execute(stmt):
        for name in sets_of(role):
            entry = sums.setdefault((*cell, name), [0.0, 0, _day(day)])
            entry[0] += float(total)
            entry[1] += int(n)
    return {cell: (total / n, day) for cell, (total, n, day) in sums.items()}


async def follow(tx: Tx, before: Means, after: Means) -> None:
    """Bring the session rollups from a recording's means ``before`` a write to those ``after`` it: each
    changed mean leaves its rows and the new one enters, in the session's day, week, month and all time."""
    for cell in sorted(set(before) | set(after), key=str):
        old, new = before.get(cell), after.get(cell)
        if old == new:
            continue
        day = (old or new)[1]  # type: ignore[index]  # one of them is there
        for table in ROLLUPS:
            await _shift(tx, table, cell, day, None if old is None else old[0], None if new is None else new[0])


async def _shift(
    tx: Tx, table: Rollup, cell: tuple[Any, ...], day: dt.date, old: float | None, new: float | None
) -> None:
    """One rollup row: a session's mean ``old`` out (``None``: it was not in), ``new`` in (``None``: it leaves)."""
    key = dict(zip(_NAMES, cell, strict=True))
    if table is not RollupTotal:
        key["day"] = period_start(table, day)
    where = [getattr(table, name) == value for name, value in key.items() if name != "day"]
    if table is not RollupTotal:
        where.append(table.__table__.c.day == key["day"])
    row = (await tx.execute(select(table.n, table.total, table.total_sq, table.min, table.max).where(*where))).first()
    if row is None or (old is not None and not _inside(old, row.min, row.max)):
        # no row yet, or the old mean was an extreme (min and max cannot be subtracted): the row from the scores
        await tx.execute(delete(table).where(*where))
        scope = [getattr(ReviewScore, name) == value for name, value in key.items() if name not in ("role", "day")]
        if table is not RollupTotal:
            scope.append(
                and_(ReviewScore.local_day >= key["day"], ReviewScore.local_day <= period_end(table, key["day"]))
            )
        fresh = await _recompute(tx, table, key["role"], *scope)
        if fresh:
            [sums] = fresh.values()
            await tx.execute(insert(table), [{**key, **sums._asdict()}])
        return
    n = row.n - (old is not None) + (new is not None)
    if n == 0:
        await tx.execute(delete(table).where(*where))
        return
    before, after = old or 0.0, new or 0.0
    changes = {
        "n": n,
        "total": row.total - before + after,
        "total_sq": row.total_sq - before * before + after * after,
        "min": row.min if new is None else min(row.min, new),
        "max": row.max if new is None else max(row.max, new),
    }
    await tx.execute(update(table).where(*where).values(**changes))


def _inside(value: float, low: float, high: float) -> bool:
    """Strictly between ``low`` and ``high``, beyond rounding: ``value`` is neither of them (a mean computed
    here may differ from the same mean computed by the database in the last digit)."""
    margin = 1e-9 * max(1.0, abs(value))
    return low + margin < value < high - margin
