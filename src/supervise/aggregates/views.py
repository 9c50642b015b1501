"""Series and team views: per session (the mean of the reviews of each session) or, in a series asked for
``unit=review``, per review; read from rollups, and kept per worker until the organisation changes.

A view is computed from the rollups (``supervise.scores``: per review, or per session from the session
rollups of a rater set) and kept as its JSON under the organisation's
change counter (``supervise.cache``) and until the next consent expiry, so a repeated question costs one
counter read. Only these views are kept: those that read single reviews apply the consent rule per viewer, at
every read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from supervise import cache, problems
from supervise.aggregates import disclosure, repository
from supervise.aggregates.schemas import (
    Bucket,
    BucketSize,
    MeasureSeries,
    RoleFilter,
    TeamCell,
    TeamRole,
    TeamRow,
    TeamView,
    TherapistSeries,
    Unit,
)
from supervise.aggregates.shared import (
    MIN_CELL_SESSIONS,
    Sums,
    check_range,
    definition,
    measure_range,
    measures,
    not_blinded,
    roles,
    session_set,
    stats,
    visible_therapist,
)
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.errors import FieldError, Forbidden, Unprocessable
from supervise.members import service as members
from supervise.reviews import service as reviews
from supervise.reviews.schemas import RubricPin
from supervise.runtime import Runtime
from supervise.scores import service as scores

__all__ = ["View", "team_view", "therapist_series"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class View(Generic[T]):
    """An answer, kept as its JSON (a repeated question is neither recomputed nor re-encoded, and the cache
    holds bytes, not object trees); ``T`` is the schema it encodes."""

    json: bytes
    valid_until: dt.datetime | None
    """The next consent expiry in the organisation: it may take sessions out of the answer."""


async def _answer(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    asked: tuple[Any, ...],
    compute: Callable[[dt.datetime], Awaitable[T]],
) -> View[T]:
    """The view computed for this same question by this same viewer, if nothing in the organisation has changed
    since and no consent has expired since; else ``compute``'s answer, kept."""
    generation = cache.generation_of(tx, principal.org_id)
    view: View[T] | None = runtime.views.get(principal.org_id, generation, asked)
    now = utcnow()
    if view is not None and (view.valid_until is None or now < view.valid_until):
        return view
    answer = await compute(now)
    kept: View[T] = View(msgspec.json.encode(answer), await repository.next_consent_expiry(tx, principal.org_id, now))
    generation = cache.generation_of(tx, principal.org_id)
    if generation is not None:
        runtime.views.put(principal.org_id, generation, asked, kept)
    return kept


def _bucket(day: dt.date, size: BucketSize) -> dt.date | None:
    if size == "week":
        return day - dt.timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    if size == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return None


async def therapist_series(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    therapist_id: uuid.UUID,
    *,
    rubric_key: str,
    version: str | None,
    bucket: BucketSize,
    role: RoleFilter,
    unit: Unit = "session",
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> View[TherapistSeries]:
    check_range(date_from, date_to)
    asked = ("series", principal.member_id, therapist_id, rubric_key, version, bucket, role, unit, date_from, date_to)

    async def compute(now: dt.datetime) -> TherapistSeries:
        await visible_therapist(tx, principal, therapist_id)
        await not_blinded(tx, principal, therapist_id)
        rubric = await definition(tx, runtime, rubric_key, version)
        await scores.sweep(tx, principal.org_id, now)  # once the question is known to be valid: it may write
        sums: dict[tuple[str, str], dict[dt.date | None, Sums]] = defaultdict(lambda: defaultdict(Sums))

        async def read(rater_roles: tuple[str, ...]) -> list[repository.RollupSums]:
            return await repository.read_sums(
                tx, principal.org_id, [therapist_id], rubric.key, rubric.version, rater_roles, date_from, date_to,
                grain="week" if bucket == "week" else "month", by_period=bucket != "all",
            )  # fmt: skip

        per_review = await read(roles(role))
        # per session: the session rollups of the rater set, and the reviews behind them from the per-review ones
        for row in per_review if unit == "review" else await read((session_set(role),)):
            start = None if row.start is None else _bucket(row.start, bucket)
            sums[(row.kind, row.measure)][start].add(row.n, row.total, row.total_sq, row.low, row.high, 0)
        for row in per_review:
            sums[(row.kind, row.measure)][None if row.start is None else _bucket(row.start, bucket)].reviews += row.n
        series = [
            MeasureSeries(
                kind=kind,
                key=key,
                label=label,
                buckets=[
                    Bucket(start=start, reviews=s.reviews, **stats(s.summary(), measure_range(rubric, kind, key)))
                    for start, s in sorted(sums[(kind, key)].items(), key=lambda kv: kv[0] or dt.date.min)
                ],
            )
            for kind, key, label in measures(rubric)
        ]
        return TherapistSeries(
            therapist_id=therapist_id,
            rubric=RubricPin(key=rubric.key, version=rubric.version),
            versions=runtime.registry.known_versions(rubric.key),
            version_chosen="latest" if version is None else "asked",
            role=role,
            bucket=bucket,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
            measures=series,
        )

    view = await _answer(tx, runtime, principal, asked, compute)
    audit.record_read(tx, principal, "aggregate.series", "member", therapist_id)
    return view


async def _team(tx: Tx, principal: Principal, supervisor_id: uuid.UUID | None) -> list[uuid.UUID] | None:
    """The therapists of the view (``None``: the whole organisation)."""
    if supervisor_id is None:
        if principal.is_admin:
            return None
        supervisor_id = principal.member_id
    if not principal.is_admin and supervisor_id != principal.member_id:
        raise Forbidden(problems.NOT_PERMITTED, "A supervisor sees their own team; admins see any.")
    if await members.find_member(tx, principal.org_id, supervisor_id) is None:
        raise Unprocessable(
            problems.INVALID_REFERENCE,
            "No such supervisor.",
            errors=[FieldError("supervisor_id", "no member with this id")],
        )
    return await members.supervisees(tx, principal.org_id, supervisor_id)


def _one_month(date_from: dt.date | None, date_to: dt.date | None) -> None:
    """A team view covers all time or one whole calendar month: cells over nested or overlapping ranges could
    be subtracted from one another to recover the sessions in between."""
    if date_from is None and date_to is None:
        return
    errors = []
    if date_from is None or date_from.day != 1:
        errors.append(FieldError("from", "the first day of a month: a team view covers one calendar month or all time"))
    elif date_to != _month_end(date_from):
        errors.append(FieldError("to", f"the last day of the month 'from' starts ({_month_end(date_from)})"))
    if errors:
        raise Unprocessable(
            problems.WHOLE_PERIOD_REQUIRED, "A team view covers one whole calendar month, or all time.", errors=errors
        )


def _month_end(first: dt.date) -> dt.date:
    if first.month == 12:
        return first.replace(day=31)
    return first.replace(month=first.month + 1) - dt.timedelta(days=1)


async def team_view(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    *,
    supervisor_id: uuid.UUID | None,
    rubric_key: str,
    version: str | None,
    role: TeamRole,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> View[TeamView]:
    """Per therapist of a team (or of the organisation, for admins), every measure side by side, per session.

    Disclosure control: a cell is withheld below :data:`MIN_CELL_SESSIONS` sessions; a view covers one whole
    month or all time (so no two views' cells overlap in part), the rater sets are disjoint (``observers``,
    ``self``, ``client``), and an all-time cell is withheld too when the months withheld on their own hold
    between 1 and MIN_CELL_SESSIONS - 1 sessions together: all time minus the months shown is exactly them."""
    _one_month(date_from, date_to)
    asked = ("team", principal.member_id, supervisor_id, rubric_key, version, role, date_from, date_to)

    async def compute(now: dt.datetime) -> TeamView:
        therapists = await _team(tx, principal, supervisor_id)
        rubric = await definition(tx, runtime, rubric_key, version)
        await scores.sweep(tx, principal.org_id, now)  # once the question is known to be valid: it may write
        cells_of: dict[Any, dict[tuple[str, str], Sums]] = defaultdict(lambda: defaultdict(Sums))
        residual: dict[Any, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))

        async def read(rater_roles: tuple[str, ...], by_period: bool) -> list[repository.RollupSums]:
            if therapists == []:
                return []
            return await repository.read_sums(
                tx, principal.org_id, therapists, rubric.key, rubric.version, rater_roles, date_from, date_to,
                grain="month", by_period=by_period,
            )  # fmt: skip

        for row in await read((session_set(role),), False):  # the session rollups of the rater set
            cells_of[row.therapist_id][(row.kind, row.measure)].add(
                row.n, row.total, row.total_sq, row.low, row.high, 0
            )
        if date_from is None and therapists != []:  # all time: the sessions of the months withheld on their own
            for small in await disclosure.withheld_months(
                tx, principal.org_id, therapists, rubric.key, rubric.version, session_set(role), MIN_CELL_SESSIONS
            ):
                residual[small.therapist_id][(small.kind, small.measure)] = small.sessions
        for row in await read(roles(role), False):  # the reviews behind them
            cells_of[row.therapist_id][(row.kind, row.measure)].reviews += row.n
        listed = measures(rubric)
        owed = await reviews.owed_therapists(tx, principal)
        team = []
        for therapist in sorted(cells_of):
            cells = []
            for kind, key, _label in listed:
                sums = cells_of[therapist].get((kind, key))
                if sums is None:
                    continue
                summary = sums.summary()
                left = residual[therapist][(kind, key)]  # sessions in months withheld on their own
                hidden = (
                    summary.n < MIN_CELL_SESSIONS
                    or 0 < left < MIN_CELL_SESSIONS
                    or therapist in owed  # the caller still owes a first review of one of their sessions
                )
                figures = (
                    stats(summary, measure_range(rubric, kind, key))
                    if not hidden
                    else {**dict.fromkeys(("mean", "sd", "ci95", "min", "max")), "n": summary.n, "ci95_clipped": False}
                )
                cells.append(TeamCell(kind=kind, key=key, suppressed=hidden, reviews=sums.reviews, **figures))
            team.append(TeamRow(therapist_id=therapist, cells=cells))
        return TeamView(
            rubric=RubricPin(key=rubric.key, version=rubric.version),
            versions=runtime.registry.known_versions(rubric.key),
            version_chosen="latest" if version is None else "asked",
            role=role,
            date_from=date_from,
            date_to=date_to,
            min_cell_sessions=MIN_CELL_SESSIONS,
            labels={f"{kind}:{key}": label for kind, key, label in listed},
            therapists=team,
        )

    view = await _answer(tx, runtime, principal, asked, compute)
    audit.record_read(tx, principal, "aggregate.team", "member", supervisor_id)
    return view
