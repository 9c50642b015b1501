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
import typing
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)

from supervise.db import Tx
from supervise.scores.periods import ROLLUPS, Rollup, period_end, period_start
from supervise.scores.repository import Cell, Sums, add_sums
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
    changed mean leaves its rows and the new one enters, in the session's day, week, month and all time. A
    session entering a rater set is added like a review; a mean that moves or leaves shifts the row's count
    and sums, and the row is recomputed from the scores only when the mean leaving was its min or max."""
    changed = [
        (cell, before.get(cell), after.get(cell))
        for cell in sorted(set(before) | set(after), key=str)
        if before.get(cell) != after.get(cell)
    ]
    for table in ROLLUPS:
        entering, moving = [], []
        for cell, old, new in changed:
            key = dict(zip(_NAMES, cell, strict=True))
            if table is not RollupTotal:
                key["day"] = period_start(table, (old or new)[1])  # type: ignore[index]  # one is there
            if old is None:
                assert new is not None
                value = new[0]
                entering.append({**key, "n": 1, "total": value, "total_sq": value * value, "min": value, "max": value})
            else:
                moving.append((key, old[0], None if new is None else new[0]))
        await add_sums(tx, table, entering)
        if moving:
            await _move(tx, table, moving)


def _columns(table: Rollup) -> list[str]:
    return [*_NAMES] if table is RollupTotal else [*_NAMES, "day"]


async def _move(tx: Tx, table: Rollup, moving: list[tuple[dict[str, Any], float, float | None]]) -> None:
    """Sessions' means ``old`` out of their rows and ``new`` (``None``: none) in."""
    names = _columns(table)
    columns = [table.__table__.c[name] for name in names]
    keys = [tuple(key[name] for name in names) for key, _, _ in moving]
    stored = {
        tuple(row[: len(names)]): row[len(names) :]
        for row in await tx.execute(
            select(*columns, table.n, table.total, table.total_sq, table.min, table.max).where(
                table.org_id == moving[0][0]["org_id"], tuple_(*columns).in_(keys)
            )
        )
    }
    shifted = []
    for (key, old, new), cell in zip(moving, keys, strict=True):
        row = stored.get(cell)
        if row is None or not _inside(old, row[3], row[4]):
            await _recompute_row(tx, table, key)  # min and max cannot be subtracted
            continue
        n, total, total_sq, low, high = row  # old lay strictly inside: other sessions hold min and max
        gone, come = old, 0.0 if new is None else new
        shifted.append(
            {
                **{f"k_{name}": key[name] for name in names},
                "n": n - 1 + (new is not None),
                "total": total - gone + come,
                "total_sq": total_sq - gone * gone + come * come,
                "min": low if new is None else min(low, new),
                "max": high if new is None else max(high, new),
            }
        )
    if shifted:
        where = [column == bindparam(f"k_{name}") for name, column in zip(names, columns, strict=True)]
        core = cast_table(table)  # Core, not the ORM's bulk update: one executemany
        await tx.execute(update(core).where(*where), shifted)


async def _recompute_row(tx: Tx, table: Rollup, key: dict[str, Any]) -> None:
    """One session rollup row again from the scores (gone when no session is left in it)."""
    names = _columns(table)
    await tx.execute(delete(table).where(*(table.__table__.c[name] == key[name] for name in names)))
    scope = [getattr(ReviewScore, name) == key[name] for name in _NAMES if name != "role"]
    if table is not RollupTotal:
        scope.append(and_(ReviewScore.local_day >= key["day"], ReviewScore.local_day <= period_end(table, key["day"])))
    fresh = await _recompute(tx, table, key["role"], *scope)
    if fresh:
        [sums] = fresh.values()
        await tx.execute(insert(table), [{**{name: key[name] for name in names}, **sums._asdict()}])


def cast_table(table: Rollup) -> Table:
    return typing.cast("Table", table.__table__)


def _inside(value: float, low: float, high: float) -> bool:
    """Strictly between ``low`` and ``high``, beyond rounding: ``value`` is neither of them (a mean computed
    here may differ from the same mean computed by the database in the last digit)."""
    margin = 1e-9 * max(1.0, abs(value))
    return low + margin < value < high - margin
