"""What every aggregate view shares: who may see a therapist's figures, the rubric version asked about and
its measures, and statistics as the API sends them.

Who sees an aggregate: a therapist's own figures, a supervisor's supervisees', an admin's whole organisation;
another therapist is 404. Views that pool several therapists withhold any cell built from fewer than
:data:`MIN_CELL_SESSIONS` sessions. Every read is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from supervise import problems
from supervise.aggregates.schemas import MeasureKind, RoleFilter
from supervise.aggregates.stats import Summary, summarise
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.errors import Conflict, FieldError, NotFound, Unprocessable
from supervise.members import service as members
from supervise.recordings import service as recordings
from supervise.reviews import service as reviews
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import RubricDefinition
from supervise.runtime import Runtime

__all__ = [
    "MIN_CELL_SESSIONS",
    "OBSERVERS",
    "Sums",
    "alpha_band",
    "check_range",
    "definition",
    "gap_range",
    "measure_range",
    "measures",
    "not_blinded",
    "roles",
    "session_set",
    "stats",
    "visible_therapist",
]

MIN_CELL_SESSIONS = 5
"""A pooled view shows a therapist's figure only when at least this many sessions make it (however many
reviews of them there are: rating one session five times singles it out as much as rating it once)."""

OBSERVERS = ("supervisor", "peer")
"""Who observes a session: its therapist (``self``) and its client (``client``) rate it from inside."""


async def visible_therapist(tx: Tx, principal: Principal, therapist_id: uuid.UUID) -> None:
    """404 unless the therapist exists in the caller's organisation and the caller may see their figures."""
    therapist = await members.find_member(tx, principal.org_id, therapist_id)
    if therapist is None or not await recordings.may_see_therapist(tx, principal, therapist_id):
        raise NotFound("therapist")


async def definition(tx: Tx, runtime: Runtime, key: str, version: str | None) -> RubricDefinition:
    """The rubric version asked about: the latest installed, or any version used (from its snapshot)."""
    if version is None:
        latest = runtime.registry.latest(key)
        if latest is None:
            raise Unprocessable(
                problems.RUBRIC_UNKNOWN,
                "No such rubric here.",
                errors=[FieldError("rubric", f"no installed rubric '{key}'")],
            )
        return latest.definition()
    try:
        return (await rubrics.get_version(tx, runtime.registry, key, version)).definition
    except NotFound:
        raise Unprocessable(
            problems.RUBRIC_UNKNOWN,
            "No such rubric version here.",
            errors=[FieldError("version", f"{key} has no version {version}")],
        ) from None


async def not_blinded(tx: Tx, principal: Principal, therapist_id: uuid.UUID) -> None:
    if therapist_id in await reviews.owed_therapists(tx, principal):
        raise Conflict(
            problems.BLIND_REVIEW_PENDING,
            "You still owe a first review of one of this therapist's sessions: their figures stay hidden from "
            "you until it is submitted (blind review).",
        )


def measures(definition: RubricDefinition) -> list[tuple[MeasureKind, str, str]]:
    """``(kind, key, label)`` in the rubric's order: session-level items, then its scores."""
    items: list[tuple[MeasureKind, str, str]] = [
        ("item", item.key, item.label) for item in definition.items if item.level == "session"
    ]
    scores: list[tuple[MeasureKind, str, str]] = [("score", spec.key, spec.label) for spec in definition.scores]
    return items + scores


def roles(role: RoleFilter) -> tuple[str, ...]:
    return OBSERVERS if role == "observers" else (role,)


def session_set(role: RoleFilter) -> str:
    """The role the session rollups of ``role``'s rater set carry (``supervise.scores.sessions.SETS``)."""
    return f"s:{role}"


class Sums:
    """Rollup pieces added up, for one figure."""

    __slots__ = ("high", "low", "n", "reviews", "total", "total_sq")

    def __init__(self) -> None:
        self.n, self.reviews, self.total, self.total_sq = 0, 0, 0.0, 0.0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, n: int, total: float, total_sq: float, low: float, high: float, reviews: int | None = None) -> None:
        """Add ``n`` values; ``reviews``: the reviews behind them (``n`` itself when each value is a review)."""
        self.n += n
        self.reviews += n if reviews is None else reviews
        self.total += total
        self.total_sq += total_sq
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def summary(self) -> Summary:
        return summarise(self.n, self.total, self.total_sq, self.low, self.high)


def stats(summary: Summary, bounds: tuple[float | None, float | None] = (None, None)) -> dict[str, Any]:
    """A summary as the fields of ``Stats``; its interval cut to ``bounds``, the measure's declared range (a
    mean cannot lie outside it), and marked ``ci95_clipped`` when it was."""
    ci = (summary.ci_low, summary.ci_high) if summary.ci_low is not None and summary.ci_high is not None else None
    clipped = False
    if ci is not None:
        low, high = bounds
        cut = (ci[0] if low is None else max(ci[0], low), ci[1] if high is None else min(ci[1], high))
        clipped, ci = cut != ci, cut
    return {
        "n": summary.n,
        "mean": summary.mean,
        "sd": summary.sd,
        "ci95": ci,
        "ci95_clipped": clipped,
        "min": summary.min,
        "max": summary.max,
    }


def alpha_band(alpha: float | None) -> Literal["reliable", "tentative", "unreliable"] | None:
    """Krippendorff's bands: alpha >= .800 reliable, >= .667 tentative, below that unreliable."""
    if alpha is None:
        return None
    return "reliable" if alpha >= 0.8 else "tentative" if alpha >= 0.667 else "unreliable"


def measure_range(definition: RubricDefinition, kind: str, key: str) -> tuple[float | None, float | None]:
    """The declared range of an item's scale or a score (``None`` where unbounded)."""
    if kind == "score":
        spec = next((s for s in definition.scores if s.key == key), None)
        return (spec.min, spec.max) if spec else (None, None)
    item = next((i for i in definition.items if i.key == key), None)
    scale = item.scale if item else None
    return (getattr(scale, "min", None), getattr(scale, "max", None))


def gap_range(definition: RubricDefinition, kind: str, key: str) -> tuple[float | None, float | None]:
    """The range of a difference of two values of one measure."""
    low, high = measure_range(definition, kind, key)
    return (None, None) if low is None or high is None else (low - high, high - low)


def check_range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Unprocessable(
            problems.INVALID_VALUE, "The date range is empty.", errors=[FieldError("from", "after 'to'")]
        )
