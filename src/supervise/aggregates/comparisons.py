"""Comparisons that read single reviews' scores, counting only reviews the caller may read one by one (blind
review, drafts, consent: the rules of ``GET /v1/reviews``): self vs observer, case trajectories, feedback
usefulness and inter-rater reliability."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any, Literal

from supervise import problems
from supervise.aggregates import markers, repository
from supervise.aggregates.schemas import (
    CaseTrajectory,
    Gap,
    IccOut,
    Reliability,
    ReliabilityRow,
    RoleScore,
    SelfVsObserver,
    SessionPoint,
    Stats,
    Usefulness,
    UsefulnessRow,
)
from supervise.aggregates.shared import (
    OBSERVERS,
    alpha_band,
    check_range,
    definition,
    gap_range,
    measure_range,
    measures,
    stats,
    visible_therapist,
)
from supervise.aggregates.stats import icc_a1, krippendorff_alpha, summarise
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.errors import FieldError, Forbidden, NotFound, Unprocessable
from supervise.recordings import service as recordings
from supervise.reviews import service as reviews
from supervise.reviews.schemas import RubricPin
from supervise.rubrics.model import BooleanScale, OrdinalScale
from supervise.runtime import Runtime

__all__ = ["DEFAULT_DROP", "case_trajectory", "largest_block", "reliability", "self_vs_observer", "usefulness"]

IccBand = Literal["poor", "moderate", "good", "excellent"]
Metric = Literal["interval", "nominal"]


async def self_vs_observer(
    tx: Tx,
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
    await visible_therapist(tx, principal, therapist_id)
    check_range(date_from, date_to)
    asked = await definition(tx, runtime, rubric_key, version)
    pairs = await repository.self_and_observers(
        tx, reviews.viewer(principal), therapist_id, asked.key, asked.version, OBSERVERS, date_from, date_to
    )
    collected: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for pair in pairs:
        collected[(pair.kind, pair.measure)].append((pair.own, pair.observed))
    gaps_out = []
    for kind, key, label in measures(asked):
        values = collected.get((kind, key), [])
        gaps = [own - observed for own, observed in values]
        gap = summarise(
            len(gaps), sum(gaps), sum(g * g for g in gaps), min(gaps, default=None), max(gaps, default=None)
        )
        gaps_out.append(
            Gap(
                kind=kind,
                key=key,
                label=label,
                n=len(values),
                mean_self=sum(v[0] for v in values) / len(values) if values else None,
                mean_observer=sum(v[1] for v in values) / len(values) if values else None,
                gap=Stats(**stats(gap, gap_range(asked, kind, key))),
            )
        )
    audit.record_read(tx, principal, "aggregate.self_vs_observer", "member", therapist_id)
    return SelfVsObserver(
        therapist_id=therapist_id,
        rubric=RubricPin(key=asked.key, version=asked.version),
        date_from=date_from,
        date_to=date_to,
        measures=gaps_out,
    )


DEFAULT_DROP = 0.15
"""Share of a measure's range a score must fall between consecutive sessions to signal a rupture (no
instrument here publishes a drop threshold; WAI's manual names a session-to-session drop as the signal)."""


async def case_trajectory(
    tx: Tx,
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
    case = await recordings.find_case(tx, principal.org_id, case_id)
    if case is None or not await recordings.may_see_therapist(tx, principal, case.therapist_id):
        raise NotFound("case")
    asked = await definition(tx, runtime, rubric_key, version)
    kind = next((k for k, key, _ in measures(asked) if key == measure), None)
    if kind is None:
        raise Unprocessable(
            problems.RUBRIC_UNKNOWN,
            "The rubric has no such measure.",
            errors=[FieldError("measure", f"{asked.key} {asked.version} has no item or score '{measure}'")],
        )
    low, high = measure_range(asked, kind, measure)
    # An unbounded measure (a count, a ratio) has no range to take a share of, and no instrument here
    # publishes an absolute drop for one: no rupture is signalled on it.
    threshold = round(DEFAULT_DROP * (high - low), 9) if low is not None and high is not None else None
    rows = await repository.case_scores(tx, reviews.viewer(principal), case_id, asked.key, asked.version, kind, measure)
    by_session: dict[tuple[int, uuid.UUID, dt.datetime], dict[str, dict[Any, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for score in rows:
        key = (score.session_number, score.recording_id, score.occurred_at)
        by_session[key][score.role][score.reviewer_id].append(float(score.value))
    previous: dict[str, dict[Any, float]] = {}  # per role: each rater's value at the role's last rated session
    sessions = []
    for (number, recording_id, occurred_at), by_role in sorted(by_session.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        points, rupture = [], False
        for role in sorted(by_role):
            raters = {rater: sum(values) / len(values) for rater, values in by_role[role].items()}
            mean = sum(raters.values()) / len(raters)
            change, basis = _change(raters, previous.get(role))
            fell = change is not None and threshold is not None and -change > threshold + 1e-12
            rupture = rupture or fell
            n = sum(len(values) for values in by_role[role].values())
            points.append(RoleScore(role=role, n=n, mean=mean, change=change, change_basis=basis))
            previous[role] = raters
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
        rubric=RubricPin(key=asked.key, version=asked.version),
        measure=measure,
        drop_threshold=threshold,
        sessions=sessions,
    )


def _change(
    raters: dict[Any, float], before: dict[Any, float] | None
) -> tuple[float | None, Literal["same_raters", "different_raters"] | None]:
    """A role's change since its previous rated session: over the raters who rated both, each against
    themselves, where there are any; else the change of the role's mean across different raters (a new
    supervisor who rates lower is no rupture of the alliance, and the answer says which it is)."""
    if before is None:
        return None, None
    same = [raters[rater] - before[rater] for rater in raters.keys() & before.keys()]
    if same:
        return sum(same) / len(same), "same_raters"
    return sum(raters.values()) / len(raters) - sum(before.values()) / len(before), "different_raters"


async def usefulness(tx: Tx, principal: Principal, *, reviewer_id: uuid.UUID | None) -> Usefulness:
    """How useful therapists found each reviewer's feedback: your own; admins any reviewer's, or everyone's.
    Every rating behind a figure is already readable by its viewer (on the reviews), so nothing is withheld."""
    if reviewer_id is None and not principal.is_admin:
        reviewer_id = principal.member_id
    if reviewer_id is not None and reviewer_id != principal.member_id and not principal.is_admin:
        raise Forbidden(problems.NOT_PERMITTED, "You see how useful your own feedback was; admins see everyone's.")
    rows = await repository.usefulness(tx, principal.org_id, reviewer_id)
    audit.record_read(tx, principal, "aggregate.usefulness", "member", reviewer_id)
    return Usefulness(
        reviewers=[
            UsefulnessRow(
                reviewer_id=r.reviewer_id,
                **stats(summarise(int(r.n), float(r.total), float(r.total_sq), r.low, r.high), (1, 5)),
            )
            for r in rows
        ]
    )


def largest_block(units: dict[Any, dict[Any, float]]) -> tuple[list[Any], list[Any]] | None:
    """The largest complete block of ``units`` (recording -> rater -> value): the raters, two or more, and the
    recordings they all rated, with the most recordings; among those, the most raters; among those, the first
    by the raters' sorted ids. ``None`` when no recording has two raters.

    Only pairs need searching: any block's recordings are all rated by each pair of its raters, so the most
    recordings is a pair's. And for the recordings a pair covers, the raters every one of them had is the
    largest group with exactly those recordings — the block to take for that pair."""
    raters: dict[Any, set[Any]] = {unit: set(ratings) for unit, ratings in units.items() if len(ratings) >= 2}
    everyone = sorted({rater for rated in raters.values() for rater in rated}, key=str)
    best: tuple[int, int, list[str]] | None = None
    chosen: tuple[list[Any], list[Any]] | None = None
    for i, first in enumerate(everyone):
        for second in everyone[i + 1 :]:
            covered = [unit for unit, rated in raters.items() if first in rated and second in rated]
            if not covered:
                continue
            group = sorted(set.intersection(*(raters[unit] for unit in covered)), key=str)
            rank = (-len(covered), -len(group), [str(rater) for rater in group])
            if best is None or rank < best:
                best, chosen = rank, (group, sorted(covered, key=str))
    return chosen


MIN_ICC_TARGETS = 5
"""Recordings an ICC needs, all rated by the same two or more observers: below that its interval is too wide
to say anything (Koo & Li 2016 ask for at least 30; we show it from 5, with its interval)."""


def _koo_li(value: float) -> IccBand:
    return "excellent" if value > 0.9 else "good" if value >= 0.75 else "moderate" if value >= 0.5 else "poor"


def _icc(units: dict[Any, dict[Any, float]]) -> tuple[IccOut | None, str | None]:
    """ICC(2,1) over the largest complete block (:func:`largest_block`), or why there is none."""
    block = largest_block(units)
    if block is None:
        return None, "no recording was rated by two or more observers"
    raters, recordings = block
    if len(recordings) < MIN_ICC_TARGETS:
        return None, (
            f"needs at least {MIN_ICC_TARGETS} recordings rated by the same two or more observers; "
            f"the largest such set has {len(recordings)}"
        )
    icc = icc_a1([[units[recording][rater] for rater in raters] for recording in recordings])
    if icc is None:
        return None, "the values do not vary: agreement cannot be told from chance"
    degenerate = not -1.0 <= icc.value <= 1.0
    ci = (icc.ci_low, icc.ci_high) if icc.ci_low is not None and icc.ci_high is not None else None
    return IccOut(
        value=icc.value,
        ci95=ci,
        band=None if degenerate else _koo_li(icc.value),
        ci95_bands=None if ci is None or degenerate else (_koo_li(ci[0]), _koo_li(ci[1])),
        degenerate=degenerate,
        targets=icc.targets,
        raters=icc.raters,
        rater_ids=raters,
    ), None


async def reliability(
    tx: Tx,
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
    check_range(date_from, date_to)
    if therapist_id is not None:
        await visible_therapist(tx, principal, therapist_id)
    asked = await definition(tx, runtime, rubric_key, version)
    rows = await repository.observer_values(
        tx,
        reviews.viewer(principal),
        asked.key,
        asked.version,
        OBSERVERS,
        therapist_id=therapist_id,
        first=date_from,
        last=date_to,
    )
    units: dict[tuple[str, str], dict[Any, dict[Any, float]]] = defaultdict(lambda: defaultdict(dict))
    raters: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for row in rows:
        units[(row.kind, row.measure)][row.recording_id][row.reviewer_id] = float(row.value)
        raters[(row.kind, row.measure)].add(row.reviewer_id)
    nominal = {item.key for item in asked.items if isinstance(item.scale, BooleanScale)}
    ordinal = {item.key for item in asked.items if isinstance(item.scale, OrdinalScale)}
    rows_out = []
    for kind, key, label in measures(asked):
        metric: Metric = "nominal" if kind == "item" and key in nominal else "interval"
        rated = units.get((kind, key), {})
        by_unit = [list(ratings.values()) for ratings in rated.values()]
        alpha = krippendorff_alpha(by_unit, metric)
        paired = [u for u in by_unit if len(u) >= 2]
        icc, icc_reason = _icc(rated) if metric == "interval" else (None, "nominal measure: see alpha")
        rows_out.append(
            ReliabilityRow(
                kind=kind,
                key=key,
                label=label,
                metric=metric,
                alpha=alpha,
                band=alpha_band(alpha),
                alpha_ordinal=krippendorff_alpha(by_unit, "ordinal") if kind == "item" and key in ordinal else None,
                icc=icc,
                icc_reason=icc_reason,
                units=len(paired),
                raters=len(raters.get((kind, key), set())),
                values=sum(len(u) for u in paired),
            )
        )
    agreement = await markers.marker_agreement(
        tx, principal, asked, therapist_id=therapist_id, first=date_from, last=date_to
    )
    audit.record_read(tx, principal, "aggregate.reliability", "member", therapist_id)
    return Reliability(
        rubric=RubricPin(key=asked.key, version=asked.version),
        therapist_id=therapist_id,
        date_from=date_from,
        date_to=date_to,
        measures=rows_out,
        markers=agreement,
    )
