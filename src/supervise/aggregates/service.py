"""Keeping scores and rollups current at submission, and answering series and team views from the rollups.

Who sees an aggregate: a therapist's own figures, a supervisor's supervisees', an admin's whole organisation;
another therapist is 404. Views that pool several therapists withhold any cell built from fewer than
:data:`MIN_CELL_REVIEWS` reviews. Every read is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise import cache
from supervise.aggregates import repository
from supervise.aggregates.schemas import (
    Agreement,
    Bucket,
    BucketSize,
    Calibration,
    CaseTrajectory,
    DriftPoint,
    Gap,
    IccOut,
    ItemAgreement,
    MeasureSeries,
    RaterCalibration,
    Reliability,
    ReliabilityRow,
    RoleFilter,
    RoleScore,
    SelfVsObserver,
    SessionPoint,
    Stats,
    TeamCell,
    TeamRow,
    TeamView,
    TherapistSeries,
    Usefulness,
    UsefulnessRow,
)
from supervise.aggregates.stats import Summary, icc_a1, krippendorff_alpha, summarise
from supervise.aggregates.tables import ReferenceReview, ReviewFlag, ReviewScore, RollupMonth, RollupWeek
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import new_id, utcnow
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from supervise.members import repository as members
from supervise.members.tables import SupervisionLink
from supervise.pagination import Page, PageRequest, fetch_page
from supervise.recordings import repository as recordings
from supervise.recordings import service as recording_rules
from supervise.recordings.tables import Recording
from supervise.reviews import repository as reviews
from supervise.reviews.schemas import RubricPin
from supervise.reviews.tables import Review
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import BooleanScale, Responses, Result, Rubric, RubricDefinition
from supervise.runtime import Runtime

__all__ = [
    "DEFAULT_DROP",
    "MIN_CELL_REVIEWS",
    "Mismatch",
    "View",
    "calibration",
    "case_trajectory",
    "list_flags",
    "mark_reference",
    "record_submission",
    "recount",
    "reliability",
    "self_vs_observer",
    "sweep",
    "team_view",
    "therapist_series",
    "unmark_reference",
    "usefulness",
    "verify",
]

T = TypeVar("T")

MIN_CELL_REVIEWS = 5
"""A pooled view shows a therapist's figure only when at least this many reviews make it."""

OBSERVERS = ("supervisor", "peer", "client")


# ------------------------------------------------------------------------------------------------- writes


def _values(rubric: Rubric, responses: Responses, result: Result) -> list[tuple[str, str, float]]:
    """``(kind, key, value)`` for every session-level item answered and every score the rubric computed."""
    values: list[tuple[str, str, float]] = []
    for item in rubric.items:
        value = responses.items.get(item.key)
        if item.level == "session" and value is not None:
            values.append(("item", item.key, float(value)))
    values += [("score", key, float(score)) for key, score in result.scores.items() if score is not None]
    return values


async def record_submission(
    tx: AsyncSession, review: Review, rubric: Rubric, responses: Responses, result: Result
) -> None:
    """Store a just-submitted review's scores and bring the rollups up to date, in the caller's transaction.
    An amendment replaces the scores of the revision it amends (the rollup rows it touches are recomputed).

    Rollups change under the organisation's audit-chain lock (as in :func:`recount` and :func:`sweep`), and the
    scores count only if the recording's consent still holds once that lock is held: a sweep of expiries
    either ran before (and this sees the expiry) or runs after (and sees these scores)."""
    await audit.serialise(tx, review.org_id)
    recording = await recordings.get_recording(
        tx, review.org_id, review.recording_id, viewer=None, now=review.updated_at
    )
    assert recording is not None  # a foreign key guarantees it
    counted = recording_rules.consent_active(recording, utcnow())
    base = {
        "org_id": review.org_id,
        "review_id": review.id,
        "therapist_id": review.therapist_id,
        "reviewer_id": review.reviewer_id,
        "recording_id": recording.id,
        "case_id": recording.case_id,
        "session_number": recording.session_number,
        "role": review.role,
        "rubric_key": review.rubric_key,
        "rubric_version": review.rubric_version,
        "occurred_at": recording.occurred_at,
        "counted": counted,
    }
    scores = [
        {**base, "measure_kind": kind, "measure": key, "value": value}
        for kind, key, value in _values(rubric, responses, result)
    ]
    flags = [
        ReviewFlag(
            id=new_id(),
            org_id=review.org_id,
            review_id=review.id,
            recording_id=recording.id,
            therapist_id=review.therapist_id,
            rubric_key=review.rubric_key,
            rubric_version=review.rubric_version,
            code=flag.code,
            severity=flag.severity,
            message=flag.message[:500],
            threshold=flag.threshold,
            created_at=review.submitted_at or review.updated_at,
        )
        for flag in result.flags
    ]
    if review.amends_id is not None:
        await tx.execute(
            delete(ReviewFlag).where(ReviewFlag.org_id == review.org_id, ReviewFlag.review_id == review.amends_id)
        )
    tx.add_all(flags)
    if review.amends_id is None:
        await repository.insert_scores(tx, scores)
        if counted:
            await repository.add_to_rollups(tx, scores)
        return
    earlier = await repository.delete_scores(tx, review.org_id, review.amends_id)
    await repository.insert_scores(tx, scores)
    await repository.replace_rollups(
        tx,
        review.org_id,
        review.therapist_id,
        review.rubric_key,
        review.rubric_version,
        review.role,
        [(str(s["measure_kind"]), str(s["measure"])) for s in scores] + [(s.measure_kind, s.measure) for s in earlier],
        [recording.occurred_at.astimezone(dt.UTC).date()],
    )


async def recount(tx: AsyncSession, recording: Recording, now: dt.datetime) -> None:
    """Take a recording's scores out of the rollups, or put them back, as its consent stands at ``now``, in the
    caller's transaction: series and team views count a session only while its client's consent holds.
    Called when consent is withdrawn or its expiry changed (``PATCH /v1/recordings/{id}``) and by :func:`sweep`."""
    await audit.serialise(tx, recording.org_id)
    changed = await repository.recount(
        tx, recording.org_id, recording.id, recording_rules.consent_active(recording, now)
    )
    touched: dict[tuple[Any, ...], tuple[set[tuple[str, str]], set[dt.date]]] = defaultdict(lambda: (set(), set()))
    for therapist, key, version, role, kind, measure, occurred_at in changed:
        measures, days = touched[(therapist, key, version, role)]
        measures.add((kind, measure))
        days.add(occurred_at.astimezone(dt.UTC).date())
    for (therapist, key, version, role), (measures, days) in sorted(touched.items(), key=lambda kv: str(kv[0])):
        await repository.replace_rollups(tx, recording.org_id, therapist, key, version, role, measures, days)


async def sweep(tx: AsyncSession, org_id: uuid.UUID, now: dt.datetime) -> None:
    """Apply the consent expiries that passed since the last sweep to the rollups (an expiry is a moment, not
    a write). Run before a view is computed from rollups; cached views expire at the next expiry. Everything
    is read once the organisation's chain lock is held, so a renewal or a submission committed meanwhile is
    seen (see :func:`record_submission`)."""
    last = await repository.swept_until(tx, org_id)
    if not await repository.consent_expired_between(tx, org_id, last, now):
        return  # the common case, without taking any lock
    await audit.serialise(tx, org_id)
    last = await repository.swept_until(tx, org_id)
    for recording_id in await repository.consent_expired_between(tx, org_id, last, now):
        recording = await recordings.get_recording(tx, org_id, recording_id, viewer=None, now=now)
        if recording is not None:
            await recount(tx, recording, now)
    await repository.mark_swept(tx, org_id, now)
    await audit.record(tx, None, "rollups.consent_expired", "organisation", org_id, org_id=org_id)


# -------------------------------------------------------------------------------------------------- reads


async def _visible_therapist(tx: AsyncSession, principal: Principal, therapist_id: uuid.UUID) -> None:
    """404 unless the therapist exists in the caller's organisation and the caller may see their figures."""
    therapist = await members.get_member(tx, principal.org_id, therapist_id)
    if therapist is None or not await recording_rules.may_see_therapist(tx, principal, therapist_id):
        raise NotFound("therapist")


async def _definition(tx: AsyncSession, runtime: Runtime, key: str, version: str | None) -> RubricDefinition:
    if version is None:
        latest = runtime.registry.latest(key)
        if latest is None:
            raise Unprocessable("No such rubric here.", errors=[FieldError("rubric", f"no installed rubric '{key}'")])
        return latest.definition()
    try:
        return (await rubrics.get_version(tx, runtime.registry, key, version)).definition
    except NotFound:
        raise Unprocessable(
            "No such rubric version here.", errors=[FieldError("version", f"{key} has no version {version}")]
        ) from None


def _visible(principal: Principal) -> Any:
    """The reviews' own visibility rule (blind review, drafts, consent), for reads of single reviews' scores."""
    return reviews.Viewer(
        principal.org_id, principal.member_id, is_admin=principal.is_admin, now=utcnow()
    ).may_see_review()


async def _not_blinded(tx: AsyncSession, principal: Principal, therapist_id: uuid.UUID) -> None:
    if therapist_id in await repository.owed_therapists(tx, principal.org_id, principal.member_id, utcnow()):
        raise Conflict(
            "You still owe a first review of one of this therapist's sessions: their figures stay hidden from "
            "you until it is submitted (blind review)."
        )


def _measures(definition: RubricDefinition) -> list[tuple[str, str, str]]:
    """``(kind, key, label)`` in the rubric's order: session-level items, then its scores."""
    items = [("item", item.key, item.label) for item in definition.items if item.level == "session"]
    return items + [("score", spec.key, spec.label) for spec in definition.scores]


def _roles(role: RoleFilter) -> tuple[str, ...]:
    return OBSERVERS if role == "observers" else (role,)


def _bucket(day: dt.date, size: BucketSize) -> dt.date | None:
    if size == "week":
        return day - dt.timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    if size == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return None


class _Sums:
    __slots__ = ("high", "low", "n", "total", "total_sq")

    def __init__(self) -> None:
        self.n, self.total, self.total_sq = 0, 0.0, 0.0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, n: int, total: float, total_sq: float, low: float, high: float) -> None:
        self.n += n
        self.total += total
        self.total_sq += total_sq
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def summary(self) -> Summary:
        return summarise(self.n, self.total, self.total_sq, self.low, self.high)


def _stats(summary: Summary) -> dict[str, Any]:
    ci = (summary.ci_low, summary.ci_high) if summary.ci_low is not None and summary.ci_high is not None else None
    return {"n": summary.n, "mean": summary.mean, "sd": summary.sd, "ci95": ci, "min": summary.min, "max": summary.max}


def _check_range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Unprocessable("The date range is empty.", errors=[FieldError("from", "after 'to'")])


async def therapist_series(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    therapist_id: uuid.UUID,
    *,
    rubric_key: str,
    version: str | None,
    bucket: BucketSize,
    role: RoleFilter,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> View[TherapistSeries]:
    _check_range(date_from, date_to)
    asked = ("series", principal.member_id, therapist_id, rubric_key, version, bucket, role, date_from, date_to)
    view: View[TherapistSeries] | None = _cached(tx, runtime, principal, asked)
    if view is None:
        await _visible_therapist(tx, principal, therapist_id)
        await _not_blinded(tx, principal, therapist_id)
        now = utcnow()
        answer = await _series(
            tx, runtime, principal, therapist_id, rubric_key, version, bucket, role, date_from, date_to, now
        )
        view = await _keep(tx, runtime, principal, asked, answer, now)
    audit.record_read(tx, principal, "aggregate.series", "member", therapist_id)
    return view


@dataclass(frozen=True, slots=True)
class View(Generic[T]):
    """An answer, kept as its JSON (a repeated question is neither recomputed nor re-encoded, and the cache
    holds bytes, not object trees); ``T`` is the schema it encodes."""

    json: bytes
    valid_until: dt.datetime | None
    """The next consent expiry in the organisation: it may take sessions out of the answer."""


def _cached(tx: AsyncSession, runtime: Runtime, principal: Principal, asked: tuple[Any, ...]) -> Any:
    """A view computed for this same question by this same viewer while nothing in the organisation has
    changed since (``supervise.cache``) and no consent has expired since. Only the views answered from rollups
    are kept: those that read single reviews apply the consent rule per viewer, at every read."""
    view: View[Any] | None = runtime.views.get(principal.org_id, cache.generation_of(tx, principal.org_id), asked)
    if view is None or (view.valid_until is not None and utcnow() >= view.valid_until):
        return None
    return view


async def _keep(
    tx: AsyncSession, runtime: Runtime, principal: Principal, asked: tuple[Any, ...], answer: T, now: dt.datetime
) -> View[T]:
    expiry = await repository.next_consent_expiry(tx, principal.org_id, now)
    view: View[T] = View(msgspec.json.encode(answer), expiry)
    generation = cache.generation_of(tx, principal.org_id)
    if generation is not None:
        runtime.views.put(principal.org_id, generation, asked, view)
    return view


async def _series(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    therapist_id: uuid.UUID,
    rubric_key: str,
    version: str | None,
    bucket: BucketSize,
    role: RoleFilter,
    date_from: dt.date | None,
    date_to: dt.date | None,
    now: dt.datetime,
) -> TherapistSeries:
    definition = await _definition(tx, runtime, rubric_key, version)
    await sweep(tx, principal.org_id, now)  # once the question is known to be valid: it may write
    roles = _roles(role)
    if bucket == "all" and date_from is None and date_to is None:
        rows = [
            (therapist, kind, measure, None, *sums)
            for therapist, kind, measure, *sums in await repository.read_total(
                tx, principal.org_id, [therapist_id], definition.key, definition.version, roles
            )
        ]
    else:
        rows = await repository.read_periods(
            tx,
            principal.org_id,
            [therapist_id],
            definition.key,
            definition.version,
            roles,
            date_from,
            date_to,
            grain=RollupWeek if bucket == "week" else RollupMonth,
            by_period=True,
        )
    sums: dict[tuple[str, str], dict[dt.date | None, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    for row in rows:
        _, kind, measure, day, n, total, total_sq, low, high = row
        sums[(kind, measure)][None if day is None else _bucket(day, bucket)].add(n, total, total_sq, low, high)
    measures = [
        MeasureSeries(
            kind=kind,  # type: ignore[arg-type]
            key=key,
            label=label,
            buckets=[
                Bucket(start=start, **_stats(s.summary()))
                for start, s in sorted(sums[(kind, key)].items(), key=lambda kv: kv[0] or dt.date.min)
            ],
        )
        for kind, key, label in _measures(definition)
    ]
    return TherapistSeries(
        therapist_id=therapist_id,
        rubric=RubricPin(key=definition.key, version=definition.version),
        role=role,
        bucket=bucket,
        date_from=date_from,
        date_to=date_to,
        measures=measures,
    )


async def _team(tx: AsyncSession, principal: Principal, supervisor_id: uuid.UUID | None) -> list[uuid.UUID] | None:
    """The therapists of the view (``None``: the whole organisation)."""
    if supervisor_id is None:
        if principal.is_admin:
            return None
        supervisor_id = principal.member_id
    if not principal.is_admin and supervisor_id != principal.member_id:
        raise Forbidden("A supervisor sees their own team; admins see any.")
    supervisor = await members.get_member(tx, principal.org_id, supervisor_id)
    if supervisor is None:
        raise Unprocessable("No such supervisor.", errors=[FieldError("supervisor_id", "no member with this id")])
    rows = await tx.scalars(
        select(SupervisionLink.supervisee_id).where(
            SupervisionLink.org_id == principal.org_id, SupervisionLink.supervisor_id == supervisor_id
        )
    )
    return sorted(rows.all())


async def team_view(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    supervisor_id: uuid.UUID | None,
    rubric_key: str,
    version: str | None,
    role: RoleFilter,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> View[TeamView]:
    """Per therapist of a team (or of the organisation, for admins), every measure side by side."""
    _check_range(date_from, date_to)
    asked = ("team", principal.member_id, supervisor_id, rubric_key, version, role, date_from, date_to)
    view: View[TeamView] | None = _cached(tx, runtime, principal, asked)
    if view is None:
        now = utcnow()
        answer = await _team_view(
            tx, runtime, principal, supervisor_id, rubric_key, version, role, date_from, date_to, now
        )
        view = await _keep(tx, runtime, principal, asked, answer, now)
    audit.record_read(tx, principal, "aggregate.team", "member", supervisor_id)
    return view


async def _team_view(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    supervisor_id: uuid.UUID | None,
    rubric_key: str,
    version: str | None,
    role: RoleFilter,
    date_from: dt.date | None,
    date_to: dt.date | None,
    now: dt.datetime,
) -> TeamView:
    therapists = await _team(tx, principal, supervisor_id)
    definition = await _definition(tx, runtime, rubric_key, version)
    await sweep(tx, principal.org_id, now)  # once the question is known to be valid: it may write
    roles = _roles(role)
    # The database sums the roles (and the days of a range): one row per therapist and measure comes back.
    if therapists == []:
        rows: list[Any] = []
    elif date_from is None and date_to is None:
        rows = await repository.read_total(tx, principal.org_id, therapists, definition.key, definition.version, roles)
    else:
        rows = await repository.read_periods(
            tx,
            principal.org_id,
            therapists,
            definition.key,
            definition.version,
            roles,
            date_from,
            date_to,
            grain=RollupMonth,
            by_period=False,
        )
    # A ranged view comes back in pieces (whole months, and the days at cut edges) to add up.
    pieces: dict[Any, dict[tuple[str, str], _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    for therapist, kind, measure, n, total, total_sq, low, high in rows:
        pieces[therapist][(kind, measure)].add(int(n), float(total), float(total_sq), low, high)
    sums = {therapist: {cell: s.summary() for cell, s in cells.items()} for therapist, cells in pieces.items()}
    measures = _measures(definition)
    owed = await repository.owed_therapists(tx, principal.org_id, principal.member_id, now)
    team = []
    for therapist in sorted(sums):
        cells = []
        for kind, key, _label in measures:
            summary = sums[therapist].get((kind, key))
            if summary is None:
                continue
            # Too few reviews to pool, or the caller still owes a first review of this therapist's sessions.
            hidden = summary.n < MIN_CELL_REVIEWS or therapist in owed
            stats = (
                _stats(summary)
                if not hidden
                else {**dict.fromkeys(("mean", "sd", "ci95", "min", "max")), "n": summary.n}
            )
            cells.append(TeamCell(kind=kind, key=key, suppressed=hidden, **stats))  # type: ignore[arg-type]
        team.append(TeamRow(therapist_id=therapist, cells=cells))
    return TeamView(
        rubric=RubricPin(key=definition.key, version=definition.version),
        role=role,
        date_from=date_from,
        date_to=date_to,
        min_cell_reviews=MIN_CELL_REVIEWS,
        labels={f"{kind}:{key}": label for kind, key, label in measures},
        therapists=team,
    )


async def self_vs_observer(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    therapist_id: uuid.UUID,
    *,
    rubric_key: str,
    version: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> SelfVsObserver:
    """Per measure, over recordings the therapist rated and at least one observer rated: the therapist's
    rating minus the observers' mean on that recording (read from the therapist's own scores)."""
    await _visible_therapist(tx, principal, therapist_id)
    _check_range(date_from, date_to)
    definition = await _definition(tx, runtime, rubric_key, version)
    pairs = await repository.self_and_observers(
        tx,
        principal.org_id,
        therapist_id,
        definition.key,
        definition.version,
        OBSERVERS,
        date_from,
        date_to,
        _visible(principal),
    )
    collected: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for kind, measure, own, observed in pairs:
        collected[(kind, measure)].append((float(own), float(observed)))
    measures = []
    for kind, key, label in _measures(definition):
        values = collected.get((kind, key), [])
        gaps = [own - observed for own, observed in values]
        gap = summarise(
            len(gaps), sum(gaps), sum(g * g for g in gaps), min(gaps, default=None), max(gaps, default=None)
        )
        measures.append(
            Gap(
                kind=kind,  # type: ignore[arg-type]
                key=key,
                label=label,
                n=len(values),
                mean_self=sum(v[0] for v in values) / len(values) if values else None,
                mean_observer=sum(v[1] for v in values) / len(values) if values else None,
                gap=Stats(**_stats(gap)),
            )
        )
    audit.record_read(tx, principal, "aggregate.self_vs_observer", "member", therapist_id)
    return SelfVsObserver(
        therapist_id=therapist_id,
        rubric=RubricPin(key=definition.key, version=definition.version),
        date_from=date_from,
        date_to=date_to,
        measures=measures,
    )


DEFAULT_DROP = 0.15
"""Share of a measure's range a score must fall between consecutive sessions to signal a rupture (no
instrument here publishes a drop threshold; WAI's manual names a session-to-session drop as the signal)."""


def _range(definition: RubricDefinition, kind: str, key: str) -> tuple[float | None, float | None]:
    if kind == "score":
        spec = next((s for s in definition.scores if s.key == key), None)
        return (spec.min, spec.max) if spec else (None, None)
    item = next((i for i in definition.items if i.key == key), None)
    scale = item.scale if item else None
    return (getattr(scale, "min", None), getattr(scale, "max", None))


async def case_trajectory(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    rubric_key: str,
    version: str | None,
    measure: str,
) -> CaseTrajectory:
    """Per session of a case: the measure's mean per rater role, its change since the role's previous rated
    session, and a rupture signal when it fell by more than the drop threshold."""
    case = await recordings.get_case(tx, principal.org_id, case_id)
    if case is None or not await recording_rules.may_see_therapist(tx, principal, case.therapist_id):
        raise NotFound("case")
    definition = await _definition(tx, runtime, rubric_key, version)
    kind = next((k for k, key, _ in _measures(definition) if key == measure), None)
    if kind is None:
        raise Unprocessable(
            "The rubric has no such measure.",
            errors=[FieldError("measure", f"{definition.key} {definition.version} has no item or score '{measure}'")],
        )
    low, high = _range(definition, kind, measure)
    threshold = round(DEFAULT_DROP * (high - low), 9) if low is not None and high is not None else 1.0
    rows = await repository.case_scores(
        tx, principal.org_id, case_id, definition.key, definition.version, kind, measure, _visible(principal)
    )
    by_session: dict[tuple[int, uuid.UUID, dt.datetime], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for session_number, recording_id, occurred_at, role, value in rows:
        by_session[(session_number, recording_id, occurred_at)][role].append(float(value))
    previous: dict[str, float] = {}
    sessions = []
    for (number, recording_id, occurred_at), roles in sorted(by_session.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        points, rupture = [], False
        for role in sorted(roles):
            values = roles[role]
            mean = sum(values) / len(values)
            change = mean - previous[role] if role in previous else None
            rupture = rupture or (change is not None and -change > threshold + 1e-12)
            points.append(RoleScore(role=role, n=len(values), mean=mean, change=change))
            previous[role] = mean
        sessions.append(
            SessionPoint(
                session_number=number,
                recording_id=recording_id,
                occurred_at=occurred_at,
                roles=points,
                rupture=rupture,
            )
        )
    audit.record_read(tx, principal, "aggregate.trajectory", "case", case_id)
    return CaseTrajectory(
        case_id=case_id,
        rubric=RubricPin(key=definition.key, version=definition.version),
        measure=measure,
        drop_threshold=threshold,
        sessions=sessions,
    )


async def usefulness(tx: AsyncSession, principal: Principal, *, reviewer_id: uuid.UUID | None) -> Usefulness:
    """How useful therapists found each reviewer's feedback: your own; admins any reviewer's, or everyone's.
    Every rating behind a figure is already readable by its viewer (on the reviews), so nothing is withheld."""
    if reviewer_id is None and not principal.is_admin:
        reviewer_id = principal.member_id
    if reviewer_id is not None and reviewer_id != principal.member_id and not principal.is_admin:
        raise Forbidden("You see how useful your own feedback was; admins see everyone's.")
    rows = await repository.usefulness(tx, principal.org_id, reviewer_id)
    audit.record_read(tx, principal, "aggregate.usefulness", "member", reviewer_id)
    return Usefulness(
        reviewers=[
            UsefulnessRow(reviewer_id=reviewer, **_stats(summarise(int(n), float(total), float(total_sq), low, high)))
            for reviewer, n, total, total_sq, low, high in rows
        ]
    )


def _icc(units: dict[Any, dict[Any, float]]) -> IccOut | None:
    """ICC(2,1) over the largest set of recordings rated by one and the same group of two or more raters."""
    groups: dict[frozenset[Any], list[dict[Any, float]]] = defaultdict(list)
    for ratings in units.values():
        if len(ratings) >= 2:
            groups[frozenset(ratings)].append(ratings)
    if not groups:
        return None
    raters, rows = max(groups.items(), key=lambda kv: (len(kv[1]), len(kv[0])))
    order = sorted(raters, key=str)
    icc = icc_a1([[row[r] for r in order] for row in rows])
    if icc is None:
        return None
    band = (
        "excellent" if icc.value > 0.9 else "good" if icc.value >= 0.75 else "moderate" if icc.value >= 0.5 else "poor"
    )
    ci = (icc.ci_low, icc.ci_high) if icc.ci_low is not None and icc.ci_high is not None else None
    return IccOut(value=icc.value, ci95=ci, band=band, targets=icc.targets, raters=icc.raters)  # type: ignore[arg-type]


def _band(alpha: float | None) -> str | None:
    if alpha is None:
        return None
    return "reliable" if alpha >= 0.8 else "tentative" if alpha >= 0.667 else "unreliable"


async def reliability(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    rubric_key: str,
    version: str | None,
    therapist_id: uuid.UUID | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> Reliability:
    """Agreement between observers who rated the same recordings with the same rubric version, from the
    reviews the caller may read: Krippendorff's alpha per measure (it takes any number of raters and missing
    ratings)."""
    _check_range(date_from, date_to)
    if therapist_id is not None:
        await _visible_therapist(tx, principal, therapist_id)
    definition = await _definition(tx, runtime, rubric_key, version)
    rows = await repository.observer_values(
        tx,
        principal.org_id,
        definition.key,
        definition.version,
        OBSERVERS,
        _visible(principal),
        therapist_id=therapist_id,
        first=date_from,
        last=date_to,
    )
    units: dict[tuple[str, str], dict[Any, dict[Any, float]]] = defaultdict(lambda: defaultdict(dict))
    raters: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for kind, measure, recording, reviewer, value in rows:
        units[(kind, measure)][recording][reviewer] = float(value)
        raters[(kind, measure)].add(reviewer)
    nominal = {item.key for item in definition.items if isinstance(item.scale, BooleanScale)}
    measures = []
    for kind, key, label in _measures(definition):
        metric = "nominal" if kind == "item" and key in nominal else "interval"
        rated = units.get((kind, key), {})
        by_unit = [list(ratings.values()) for ratings in rated.values()]
        alpha = krippendorff_alpha(by_unit, metric)
        paired = [u for u in by_unit if len(u) >= 2]
        measures.append(
            ReliabilityRow(
                kind=kind,  # type: ignore[arg-type]
                key=key,
                label=label,
                metric=metric,  # type: ignore[arg-type]
                alpha=alpha,
                band=_band(alpha),  # type: ignore[arg-type]
                icc=_icc(rated) if metric == "interval" else None,
                units=len(paired),
                raters=len(raters.get((kind, key), set())),
                values=sum(len(u) for u in paired),
            )
        )
    audit.record_read(tx, principal, "aggregate.reliability", "member", therapist_id)
    return Reliability(
        rubric=RubricPin(key=definition.key, version=definition.version),
        therapist_id=therapist_id,
        date_from=date_from,
        date_to=date_to,
        measures=measures,
    )


async def _reference_target(tx: AsyncSession, principal: Principal, review_id: uuid.UUID) -> Review:
    review = await reviews.get_review(
        tx,
        reviews.Viewer(principal.org_id, principal.member_id, is_admin=principal.is_admin, now=utcnow()),
        review_id,
        for_update=True,
    )
    if review is None:
        raise NotFound("review")
    return review


async def mark_reference(tx: AsyncSession, principal: Principal, review_id: uuid.UUID) -> ReferenceReview:
    """Make a submitted, current review the reference for its recording and rubric version (admins). The
    recording must be consented for training (`supervision_and_training`)."""
    review = await _reference_target(tx, principal, review_id)
    if review.state == "draft" or review.superseded_by_id is not None:
        raise Conflict("Only a submitted, current revision can be a reference.")
    recording = await recordings.get_recording(tx, review.org_id, review.recording_id, viewer=None, now=utcnow())
    assert recording is not None
    if recording.consent_scope != "supervision_and_training" or recording.consent_withdrawn_at is not None:
        raise Conflict("The recording is not consented for training use (scope supervision_and_training).")
    existing = await tx.scalar(
        select(ReferenceReview).where(
            ReferenceReview.org_id == review.org_id,
            ReferenceReview.recording_id == review.recording_id,
            ReferenceReview.rubric_key == review.rubric_key,
            ReferenceReview.rubric_version == review.rubric_version,
        )
    )
    if existing is not None:
        raise Conflict(f"This recording already has a reference with this rubric version: review {existing.review_id}.")
    reference = ReferenceReview(
        org_id=review.org_id,
        review_id=review.id,
        recording_id=review.recording_id,
        rubric_key=review.rubric_key,
        rubric_version=review.rubric_version,
        marked_by_id=principal.member_id,
        created_at=utcnow(),
    )
    tx.add(reference)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("Another reference was marked for this recording at the same time.") from None
    await audit.record(tx, principal, "review.reference", "review", review.id)
    return reference


async def unmark_reference(tx: AsyncSession, principal: Principal, review_id: uuid.UUID) -> None:
    review = await _reference_target(tx, principal, review_id)
    deleted = await tx.execute(
        delete(ReferenceReview).where(ReferenceReview.org_id == review.org_id, ReferenceReview.review_id == review.id)
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("reference")
    await audit.record(tx, principal, "review.unreference", "review", review.id)


class _Agreement:
    __slots__ = ("close", "deviation", "n")

    def __init__(self) -> None:
        self.n, self.deviation, self.close = 0, 0.0, 0

    def add(self, rater: float, reference: float) -> None:
        self.n += 1
        self.deviation += abs(rater - reference)
        self.close += abs(rater - reference) <= 1.0 + 1e-9

    def fields(self) -> dict[str, Any]:
        if not self.n:
            return {"n": 0, "mean_absolute_deviation": None, "within_one": None}
        return {"n": self.n, "mean_absolute_deviation": self.deviation / self.n, "within_one": self.close / self.n}


async def calibration(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    rubric_key: str,
    version: str | None,
    reviewer_id: uuid.UUID | None,
) -> Calibration:
    """Each rater's agreement with the reference reviews of training recordings: mean absolute deviation and
    share within 1 point, overall, per item, and per month (drift). Yours; admins see every rater's."""
    if reviewer_id is None and not principal.is_admin:
        reviewer_id = principal.member_id
    if reviewer_id is not None and reviewer_id != principal.member_id and not principal.is_admin:
        raise Forbidden("You see your own calibration; admins see every rater's.")
    definition = await _definition(tx, runtime, rubric_key, version)
    labels = {item.key: item.label for item in definition.items}
    rows = await repository.calibration_pairs(tx, principal.org_id, definition.key, definition.version, reviewer_id)
    overall: dict[Any, _Agreement] = defaultdict(_Agreement)
    items: dict[Any, dict[str, _Agreement]] = defaultdict(lambda: defaultdict(_Agreement))
    months: dict[Any, dict[dt.date, _Agreement]] = defaultdict(lambda: defaultdict(_Agreement))
    recordings_rated: dict[Any, set[Any]] = defaultdict(set)
    for reviewer, recording, measure, value, reference, submitted_at in rows:
        overall[reviewer].add(value, reference)
        items[reviewer][measure].add(value, reference)
        month = (submitted_at or utcnow()).astimezone(dt.UTC).date().replace(day=1)
        months[reviewer][month].add(value, reference)
        recordings_rated[reviewer].add(recording)
    raters = [
        RaterCalibration(
            reviewer_id=reviewer,
            recordings=len(recordings_rated[reviewer]),
            overall=Agreement(**overall[reviewer].fields()),
            items=[
                ItemAgreement(key=key, label=labels.get(key, key), **items[reviewer][key].fields())
                for key in sorted(items[reviewer], key=lambda k: list(labels).index(k) if k in labels else len(labels))
            ],
            drift=[DriftPoint(month=month, **a.fields()) for month, a in sorted(months[reviewer].items())],
        )
        for reviewer in sorted(overall, key=str)
    ]
    audit.record_read(tx, principal, "aggregate.calibration", "member", reviewer_id)
    return Calibration(rubric=RubricPin(key=definition.key, version=definition.version), raters=raters)


SEVERITIES = ("info", "warning", "critical")


async def list_flags(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    therapist_id: uuid.UUID | None,
    severity: str,
) -> Page[ReviewFlag]:
    """Flags raised by submitted reviews you may see, newest first; ``severity`` is the least severe shown."""
    shown = SEVERITIES[SEVERITIES.index(severity) :]
    stmt = repository.select_flags(principal.org_id, _visible(principal), therapist_id=therapist_id, severities=shown)
    result = await fetch_page(tx, stmt, ReviewFlag.created_at, ReviewFlag.id, page, runtime.cursors, descending=True)
    audit.record_read(tx, principal, "aggregate.flags", "review", None)
    return result


# ------------------------------------------------------------------------------------------- verification


class Mismatch:
    def __init__(self, table: str, key: tuple[Any, ...], stored: Any, expected: Any) -> None:
        self.table, self.key, self.stored, self.expected = table, key, stored, expected

    def __str__(self) -> str:
        return f"{self.table} {self.key}: stored {self.stored}, recomputed {self.expected}"


def _same(a: tuple[int, float, float, float, float] | None, b: tuple[int, float, float, float, float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return (
        a[0] == b[0]
        and a[3:] == b[3:]
        and all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for x, y in zip(a[1:3], b[1:3], strict=True))
    )


async def verify(tx: AsyncSession, org_ids: Iterable[uuid.UUID] | None = None) -> list[Mismatch]:
    """Every rollup row against a full recomputation from the scores (``org_ids``: only these)."""
    mismatches = []
    for table in repository.ROLLUPS:
        scope_scores = [] if org_ids is None else [ReviewScore.org_id.in_(list(org_ids))]
        scope_rollups = [] if org_ids is None else [table.org_id.in_(list(org_ids))]
        expected = await repository.recompute(tx, table, *scope_scores)
        stored = await repository.stored(tx, table, *scope_rollups)
        for key in sorted(set(expected) | set(stored), key=str):
            if not _same(stored.get(key), expected.get(key)):
                mismatches.append(Mismatch(table.__tablename__, key, stored.get(key), expected.get(key)))
    return mismatches


async def score_count(tx: AsyncSession) -> int:
    return int(await tx.scalar(select(func.count()).select_from(ReviewScore)) or 0)
