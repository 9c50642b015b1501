"""Keeping each submission's scores, its flags and the rollups over them current, in the submitting transaction.

Submitting a review stores its scores (one per session-level item and per score the rubric computed) and
adds them to the daily, weekly, monthly and all-time rollups; an amendment replaces the scores of the revision
it amends and recomputes the rollup rows they touch. The rollups count a session only while its consent
holds: a withdrawal, a changed expiry (:func:`recount`) or an expiry passing (:func:`sweep`) take it out or put
it back. Session rollups (:mod:`.sessions`) hold the same figures over session means per rater set, and are
recomputed for the rows each of these writes touches. The aggregate views read the rollups
(``supervise.aggregates``); :func:`verify` checks them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from supervise.audit import service as audit
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.events import service as events
from supervise.events.schemas import EventRubric, FlagRaised
from supervise.rubrics.model import ChangeRule, Responses, Result, Rubric
from supervise.scores import repository, sessions
from supervise.scores.periods import ROLLUPS
from supervise.scores.repository import CaseScore, Changed, Sums
from supervise.scores.tables import ReviewFlag

__all__ = [
    "Mismatch",
    "ReviewFlag",
    "Submission",
    "has_scores",
    "local_date",
    "record_submission",
    "recount",
    "score_count",
    "sweep",
    "verify",
]


class Submission(Protocol):
    """A review just submitted: what its scores are filed under."""

    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def therapist_id(self) -> uuid.UUID: ...
    @property
    def reviewer_id(self) -> uuid.UUID | None:
        """None for a client rating."""

    @property
    def recording_id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def rubric_key(self) -> str: ...
    @property
    def rubric_version(self) -> str: ...
    @property
    def amends_id(self) -> uuid.UUID | None:
        """The revision this one replaces."""

    @property
    def submitted_at(self) -> dt.datetime | None: ...
    @property
    def updated_at(self) -> dt.datetime: ...


def local_date(at: dt.datetime, zone: str) -> dt.date:
    """The date of the moment ``at`` in the IANA time zone ``zone``."""
    return at.astimezone(ZoneInfo(zone)).date()


async def has_scores(tx: Tx, org_id: uuid.UUID) -> bool:
    """Whether any review of the organisation was scored (its time zone is then fixed)."""
    return await repository.has_scores(tx, org_id)


def _values(rubric: Rubric, responses: Responses, result: Result) -> list[tuple[str, str, float]]:
    """``(kind, key, value)`` for every session-level item answered (unless the result calls it not applicable)
    and every score the rubric computed."""
    values: list[tuple[str, str, float]] = []
    for item in rubric.items:
        value = responses.items.get(item.key)
        if item.level == "session" and value is not None and item.key not in result.not_applicable:
            values.append(("item", item.key, float(value)))
    values += [("score", key, float(score)) for key, score in result.scores.items() if score is not None]
    return values


async def record_submission(tx: Tx, review: Submission, rubric: Rubric, responses: Responses, result: Result) -> None:
    """Store a just-submitted review's scores and flags and bring the rollups up to date, in the caller's
    transaction. An amendment replaces the scores of the revision it amends (the rollup rows it touches are
    recomputed).

    Rollups change under the organisation's audit-chain lock (as in :func:`recount` and :func:`sweep`), and the
    scores count only if the recording's consent still holds once that lock is held: a sweep of expiries
    either ran before (and this sees the expiry) or runs after (and sees these scores)."""
    await audit.serialise(tx, review.org_id)
    recording = await repository.recording(tx, review.org_id, review.recording_id)
    assert recording is not None  # a foreign key guarantees it
    counted = recording.consent_holds(utcnow())
    local_day = local_date(recording.occurred_at, await repository.time_zone(tx, review.org_id))
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
        "local_day": local_day,
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
    await repository.replace_flags(tx, review.org_id, review.amends_id, flags)
    touched = [(str(s["measure_kind"]), str(s["measure"])) for s in scores]
    before = await sessions.means(tx, review.org_id, recording.id)
    await _raised(tx, flags)
    if review.amends_id is None:
        await repository.insert_scores(tx, scores)
        if counted:
            await repository.add_to_rollups(tx, scores)
    else:
        earlier = await repository.delete_scores(tx, review.org_id, review.amends_id)
        await repository.insert_scores(tx, scores)
        touched += [(m.kind, m.key) for m in earlier]
        await repository.replace_rollups(
            tx,
            review.org_id,
            review.therapist_id,
            review.rubric_key,
            review.rubric_version,
            review.role,
            touched,
            [local_day],
        )
    await sessions.follow(tx, before, await sessions.means(tx, review.org_id, recording.id))
    await _apply_change_rules(tx, review, rubric, recording.case_id)


async def _apply_change_rules(tx: Tx, review: Submission, rubric: Rubric, case_id: uuid.UUID) -> None:
    """The rubric's change rules (:class:`~supervise.rubrics.model.ChangeRule`) between this rating and the same
    rater's ratings of the case's neighbouring sessions: this rating's flag against the session before it, and
    the flag of the session after it (rated earlier, or amended) against this one."""
    if not rubric.change_rules:
        return
    at = review.submitted_at or review.updated_at
    score_keys = {spec.key for spec in rubric.score_specs()}
    targets = sorted({rule.target for rule in rubric.change_rules})
    rows = await repository.rater_case_scores(
        tx, review.org_id, case_id, review.rubric_key, review.rubric_version, review.role, review.reviewer_id, targets
    )
    for rule in rubric.change_rules:
        kind = "score" if rule.target in score_keys else "item"
        series = [row for row in rows if (row.measure_kind, row.measure) == (kind, rule.target)]
        mine = next((i for i, row in enumerate(series) if row.review_id == review.id), None)
        if mine is None:
            continue  # not answered this time
        span = rubric.span(rule.target)
        current = series[mine]
        if mine > 0 and rule.fell(series[mine - 1].value, current.value, span):
            flag = _change_flag(review, rule, series[mine - 1], current, at)
            await repository.replace_flags(tx, review.org_id, None, [flag])
            await _raised(tx, [flag])
        if mine + 1 < len(series):
            later = series[mine + 1]
            raised = []
            if rule.fell(current.value, later.value, span):
                later_at = await repository.submitted_at(tx, review.org_id, later.review_id)
                raised.append(_change_flag(review, rule, current, later, later_at))
            had = await repository.replace_change_flags(tx, review.org_id, later.review_id, [rule.key], raised)
            await _raised(tx, [flag for flag in raised if flag.code not in had])  # raised before: no new event


async def _raised(tx: Tx, flags: list[ReviewFlag]) -> None:
    """A ``flag.raised`` event per flag newly stored."""
    if flags:
        await events.record(
            tx,
            flags[0].org_id,
            *(
                FlagRaised(
                    review_id=flag.review_id,
                    recording_id=flag.recording_id,
                    therapist_id=flag.therapist_id,
                    code=flag.code,
                    severity=flag.severity,
                    rubric=EventRubric(key=flag.rubric_key, version=flag.rubric_version),
                )
                for flag in flags
            ),
        )


def _change_flag(
    review: Submission,
    rule: ChangeRule,
    before: CaseScore,
    after: CaseScore,
    at: dt.datetime,
) -> ReviewFlag:
    """The flag ``rule`` raises on the rating ``after``: its target fell from ``before``'s."""
    return ReviewFlag(
        id=new_id(),
        org_id=review.org_id,
        review_id=after.review_id,
        recording_id=after.recording_id,
        therapist_id=review.therapist_id,
        rubric_key=review.rubric_key,
        rubric_version=review.rubric_version,
        code=rule.key,
        severity=rule.severity,
        message=f"{rule.message} ({before.value:g} in session {before.session_number}, "
        f"{after.value:g} in session {after.session_number})"[:500],
        threshold=rule.key,
        created_at=at,
    )


async def recount(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, counted: bool) -> None:
    """Take a recording's scores out of the rollups (``counted`` false) or put them back, in the caller's
    transaction: series and team views count a session only while its client's consent holds. Called when
    consent is withdrawn or its expiry changed (``recordings.service``) and by :func:`sweep`."""
    await audit.serialise(tx, org_id)
    before = await sessions.means(tx, org_id, recording_id)
    await _replace_changed(tx, org_id, await repository.recount(tx, org_id, recording_id, counted))
    await sessions.follow(tx, before, await sessions.means(tx, org_id, recording_id))


async def _replace_changed(tx: Tx, org_id: uuid.UUID, changed: list[Changed]) -> None:
    touched: dict[tuple[Any, ...], tuple[set[tuple[str, str]], set[dt.date]]] = defaultdict(lambda: (set(), set()))
    for score in changed:
        measures, days = touched[(score.therapist_id, score.rubric_key, score.rubric_version, score.role)]
        measures.add((score.measure_kind, score.measure))
        days.add(score.local_day)
    for (therapist, key, version, role), (measures, days) in sorted(touched.items(), key=lambda kv: str(kv[0])):
        await repository.replace_rollups(tx, org_id, therapist, key, version, role, measures, days)


async def sweep(tx: Tx, org_id: uuid.UUID, now: dt.datetime) -> None:
    """Apply the consent expiries that passed since the last sweep to the rollups (an expiry is a moment, not
    a write). Run before a view is computed from rollups; cached views expire at the next expiry. Everything
    is read once the organisation's chain lock is held, so a renewal or a submission committed meanwhile is
    seen (see :func:`record_submission`)."""
    last = await repository.swept_until(tx, org_id)
    if not await repository.consent_expired_between(tx, org_id, last, now):
        return  # the common case, without taking any lock
    await audit.serialise(tx, org_id)
    last = await repository.swept_until(tx, org_id)
    for recording in await repository.consent_expired_between(tx, org_id, last, now):
        await recount(tx, org_id, recording.id, recording.consent_holds(now))
    await repository.mark_swept(tx, org_id, now)
    await audit.record(tx, None, "rollups.consent_expired", "organisation", org_id, org_id=org_id)


# ------------------------------------------------------------------------------------------- verification


class Mismatch:
    def __init__(self, table: str, key: tuple[Any, ...], stored: Sums | None, expected: Sums | None) -> None:
        self.table, self.key, self.stored, self.expected = table, key, stored, expected

    def __str__(self) -> str:
        return f"{self.table} {self.key}: stored {self.stored}, recomputed {self.expected}"


def _same(a: Sums | None, b: Sums | None) -> bool:
    if a is None or b is None:
        return a is b
    # sums of many values, and session means (computed here or by the database), agree to rounding
    pairs = ((a.total, b.total), (a.total_sq, b.total_sq), (a.min, b.min), (a.max, b.max))
    return a.n == b.n and all(abs(x - y) <= 1e-9 * max(1.0, abs(y)) for x, y in pairs)


async def verify(tx: Tx, org_ids: Iterable[uuid.UUID] | None = None) -> list[Mismatch]:
    """Every rollup row against a full recomputation from the scores (``org_ids``: only these)."""
    mismatches = []
    orgs = None if org_ids is None else list(org_ids)
    for table in ROLLUPS:
        expected = await repository.recomputed(tx, table, orgs) | await sessions.recomputed(tx, table, orgs)
        stored = await repository.stored(tx, table, orgs)
        for key in sorted(set(expected) | set(stored), key=str):
            if not _same(stored.get(key), expected.get(key)):
                mismatches.append(Mismatch(table.__tablename__, key, stored.get(key), expected.get(key)))
    return mismatches


async def score_count(tx: Tx) -> int:
    return await repository.score_count(tx)
