"""Aggregates out. Every figure carries ``n``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

from supervise.reviews.schemas import RubricPin

__all__ = [
    "Bucket",
    "BucketSize",
    "Calibration",
    "CaseTrajectory",
    "FlagOut",
    "FlagPage",
    "Gap",
    "MarkerAgreement",
    "MeasureSeries",
    "Pair",
    "PerspectiveGap",
    "Perspectives",
    "Reliability",
    "ReliabilityRow",
    "RoleFilter",
    "SelfVsObserver",
    "SessionPerspectives",
    "SessionPoint",
    "TeamCell",
    "TeamRole",
    "TeamRow",
    "TeamView",
    "TherapistSeries",
    "Unit",
    "Usefulness",
    "UsefulnessRow",
]

BucketSize = Literal["week", "month", "quarter", "all"]
RoleFilter = Literal["supervisor", "peer", "self", "client", "observers"]
TeamRole = Literal["observers", "self", "client"]
"""The team view's rater sets: disjoint, so no two of its cells differ by one role's ratings."""
Unit = Literal["session", "review"]
"""What ``n`` counts: sessions (each the mean of the reviews of it in the roles asked), or single reviews."""
MeasureKind = Literal["item", "score"]


class Stats(msgspec.Struct, kw_only=True):
    n: int
    """Values behind the figure: sessions, reviews or recordings, as the view says."""
    mean: float | None
    sd: float | None
    """Sample standard deviation; null for a single review."""
    ci95: tuple[float, float] | None
    """95% confidence interval of the mean (Student's t); null below 3 values."""
    ci95_clipped: bool = False
    """The interval reached past the measure's declared range and was cut to it."""
    min: float | None
    max: float | None


class Bucket(Stats, kw_only=True):
    start: dt.date | None
    """First day of the week (Monday), month or quarter; null for `all`."""
    reviews: int = 0
    """Reviews behind the figure. With `unit=session`, `n` counts sessions (each the mean of its reviews)."""


class MeasureSeries(msgspec.Struct, kw_only=True):
    kind: MeasureKind
    """`item`: a rubric item's value; `score`: a subscale, the total or another score the rubric computes."""
    key: str
    label: str
    buckets: list[Bucket]


class TherapistSeries(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    rubric: RubricPin
    versions: list[str]
    """Every version of the rubric known here (installed, or used by reviews), oldest first. A view shows one
    version's figures: ratings under another are in that version's view (`version=`)."""
    version_chosen: Literal["asked", "latest"]
    """`latest`: no `version` was asked, so the latest installed one is shown."""
    role: RoleFilter
    bucket: BucketSize
    unit: Unit = "session"
    """What `n` counts: `session` (observers averaged within a session) or `review`."""
    date_from: dt.date | None
    date_to: dt.date | None
    measures: list[MeasureSeries]


class TeamCell(Stats, kw_only=True):
    kind: MeasureKind
    key: str
    suppressed: bool
    """Statistics withheld: fewer sessions than `min_cell_sessions` (so nobody is singled out); in the
    all-time view, also when the months withheld on their own hold 1 to `min_cell_sessions` - 1 sessions
    together (the all-time figure minus the months shown would reveal them); or you still owe a first review
    of one of this therapist's sessions (blind review)."""
    reviews: int = 0
    """Reviews behind the figure; `n` counts sessions (each the mean of its reviews)."""


class TeamRow(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    cells: list[TeamCell]


class TeamView(msgspec.Struct, kw_only=True):
    rubric: RubricPin
    versions: list[str]
    """Every version of the rubric known here (installed, or used by reviews), oldest first. A view shows one
    version's figures: ratings under another are in that version's view (`version=`)."""
    version_chosen: Literal["asked", "latest"]
    """`latest`: no `version` was asked, so the latest installed one is shown."""
    role: TeamRole
    date_from: dt.date | None
    """With `date_to`: one whole calendar month in the organisation's time zone; both null: all time."""
    date_to: dt.date | None
    min_cell_sessions: int
    labels: dict[str, str]
    """`<kind>:<key>` to the measure's label."""
    therapists: list[TeamRow]


class Gap(msgspec.Struct, kw_only=True):
    kind: MeasureKind
    key: str
    label: str
    n: int
    """Recordings rated both by the therapist and by at least one observer."""
    mean_self: float | None
    mean_observer: float | None
    gap: Stats
    """Self minus the observers' mean, per recording: positive when the therapist rates higher."""


class SelfVsObserver(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    rubric: RubricPin
    date_from: dt.date | None
    date_to: dt.date | None
    measures: list[Gap]


class RoleScore(msgspec.Struct, kw_only=True):
    role: str
    n: int
    mean: float
    change: float | None
    """Since the previous session of the case this role rated: the mean change of the raters who rated both,
    each against themselves; where none did, the change of the role's mean."""
    change_basis: Literal["same_raters", "different_raters"] | None
    """Whether `change` compares the same raters with themselves or means of different raters."""


class SessionPoint(msgspec.Struct, kw_only=True):
    session_number: int
    recording_id: uuid.UUID
    occurred_at: dt.datetime
    roles: list[RoleScore]
    rupture: bool
    """An observer's or the therapist's score fell by more than `drop_threshold` since the previous session."""


class CaseTrajectory(msgspec.Struct, kw_only=True):
    case_id: uuid.UUID
    rubric: RubricPin
    measure: str
    drop_threshold: float | None
    """The fall that signals a rupture: 15% of the measure's range (e.g. 0.9 on a 1-7 scale). Null for an
    unbounded measure (a count, a ratio): no rupture is signalled on it."""
    sessions: list[SessionPoint]


class UsefulnessRow(Stats, kw_only=True):
    reviewer_id: uuid.UUID


class Usefulness(msgspec.Struct, kw_only=True):
    reviewers: list[UsefulnessRow]
    """How useful therapists rated each reviewer's feedback (1-5), over every acknowledged review."""


class FlagOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    review_id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    rubric: RubricPin
    code: str
    severity: Literal["info", "warning", "critical"]
    message: str
    threshold: str | None
    """The rubric threshold that raised it (each names its source in the rubric's definition)."""
    at: dt.datetime
    """When the review was submitted."""


class FlagPage(msgspec.Struct, kw_only=True):
    items: list[FlagOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


IccBand = Literal["poor", "moderate", "good", "excellent"]


class IccOut(msgspec.Struct, kw_only=True):
    value: float
    ci95: tuple[float, float] | None
    band: IccBand | None
    """Koo & Li (2016): below .50 poor, .50-.75 moderate, .75-.90 good, above .90 excellent; null when
    `degenerate`."""
    ci95_bands: tuple[IccBand, IccBand] | None
    """The bands of the interval's two bounds: with few recordings the interval spans several bands, and the
    point's band alone would overstate what is known."""
    degenerate: bool
    """The estimate lies outside [-1, 1] (possible with few recordings and disagreement in no consistent
    direction): it is reported, not labelled."""
    targets: int
    """Recordings in the block the ICC was computed on. ICC(2,1) needs every target rated by the same raters:
    the block is the most recordings all rated by the same two or more observers (their other raters left
    out); among blocks as large, the one with most observers; then the first by sorted observer ids."""
    raters: int
    rater_ids: list[uuid.UUID]
    """The observers of that block, sorted."""


class ReliabilityRow(msgspec.Struct, kw_only=True):
    kind: MeasureKind
    key: str
    label: str
    metric: Literal["interval", "nominal"]
    """`nominal` for yes/no items (markers), `interval` for scales and scores."""
    alpha: float | None
    """Krippendorff's alpha; null when nothing can be paired or the values never vary."""
    band: Literal["reliable", "tentative", "unreliable"] | None
    """Krippendorff's bands: alpha >= .800 reliable, >= .667 tentative, below that unreliable."""
    alpha_ordinal: float | None
    """For an ordinal item, alpha with the ordinal metric too: it uses only the order of the scale's points,
    not their distances. Null for scores, counts and yes/no items."""
    icc: IccOut | None
    """ICC(2,1), two-way random, absolute agreement, single rater, with its 95% CI (interval measures)."""
    icc_reason: str | None
    """Why `icc` is null: a nominal measure, fewer than 5 recordings rated by the same observers, or values
    that never vary."""
    units: int
    """Recordings rated by two or more observers."""
    raters: int
    values: int


class MarkerAgreement(msgspec.Struct, kw_only=True):
    """Agreement on one yes/no segment marker (3RS), with every coding aligned on the rubric's segment grid."""

    key: str
    label: str
    alpha: float | None
    """Krippendorff's nominal alpha over the grid cells two or more coders covered; null when the marker's
    values never vary there."""
    band: Literal["reliable", "tentative", "unreliable"] | None
    cells: int
    """Grid cells (of the rubric's segment length, from the recording's start) two or more coders covered."""
    coders: int
    present: int
    """Codings, over those cells, that found the marker."""


class Reliability(msgspec.Struct, kw_only=True):
    rubric: RubricPin
    therapist_id: uuid.UUID | None
    date_from: dt.date | None
    date_to: dt.date | None
    measures: list[ReliabilityRow]
    markers: list[MarkerAgreement]
    """For a segment rubric: agreement per yes/no segment marker on a common time grid; empty otherwise."""


class Agreement(msgspec.Struct, kw_only=True):
    n: int
    """Item ratings compared with the reference's."""
    mean_absolute_deviation: float | None
    within_one: float | None
    """Share of ratings within 1 point of the reference."""


class ItemAgreement(Agreement, kw_only=True):
    key: str
    label: str


class DriftPoint(Agreement, kw_only=True):
    month: dt.date
    """First day of the month (UTC) the rater submitted these reviews of reference recordings — not the
    month of the sessions: drift is the rater changing over time, whenever the training sessions took place."""


class RaterCalibration(msgspec.Struct, kw_only=True):
    reviewer_id: uuid.UUID
    recordings: int
    overall: Agreement
    items: list[ItemAgreement]
    drift: list[DriftPoint]


class Calibration(msgspec.Struct, kw_only=True):
    rubric: RubricPin
    raters: list[RaterCalibration]


Pair = Literal["client_minus_observers", "client_minus_therapist", "therapist_minus_observers"]


class SessionPerspectives(msgspec.Struct, kw_only=True):
    """One session as its client, its therapist and its observers rated it, each as a percentage of its
    measure's range (0 the least favourable end, 100 the most), so that different instruments compare."""

    recording_id: uuid.UUID
    session_number: int
    occurred_at: dt.datetime
    client: float | None
    """The client's rating with the client rubric."""
    therapist: float | None
    """The therapist's self-rating with the rubric."""
    observers: float | None
    """The mean of the observers' (supervisors' and peers') ratings with the rubric."""
    observer_n: int


class PerspectiveGap(msgspec.Struct, kw_only=True):
    pair: Pair
    gap: Stats
    """Per session rated from both perspectives, in percentage points of range; `n` counts those sessions."""


class Perspectives(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    rubric: RubricPin
    measure: str
    client_rubric: RubricPin
    client_measure: str
    date_from: dt.date | None
    date_to: dt.date | None
    sessions: list[SessionPerspectives]
    """Sessions rated from at least one perspective, in session order."""
    gaps: list[PerspectiveGap]
