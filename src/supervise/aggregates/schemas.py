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
    "MeasureSeries",
    "RoleFilter",
    "TeamCell",
    "TeamRow",
    "TeamView",
    "TherapistSeries",
]

BucketSize = Literal["week", "month", "quarter", "all"]
RoleFilter = Literal["supervisor", "peer", "self", "client", "observers"]
MeasureKind = Literal["item", "score"]


class Stats(msgspec.Struct, kw_only=True):
    n: int
    """Reviews behind the figure."""
    mean: float | None
    sd: float | None
    """Sample standard deviation; null for a single review."""
    ci95: tuple[float, float] | None
    """95% confidence interval of the mean (Student's t); null for a single review."""
    min: float | None
    max: float | None


class Bucket(Stats, kw_only=True):
    start: dt.date | None
    """First day of the week (Monday), month or quarter; null for `all`."""


class MeasureSeries(msgspec.Struct, kw_only=True):
    kind: MeasureKind
    """`item`: a rubric item's value; `score`: a subscale, the total or another score the rubric computes."""
    key: str
    label: str
    buckets: list[Bucket]


class TherapistSeries(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    rubric: RubricPin
    role: RoleFilter
    bucket: BucketSize
    date_from: dt.date | None
    date_to: dt.date | None
    measures: list[MeasureSeries]


class TeamCell(Stats, kw_only=True):
    kind: MeasureKind
    key: str
    suppressed: bool
    """Fewer reviews than `min_cell_reviews`: the statistics are withheld so nobody is singled out."""


class TeamRow(msgspec.Struct, kw_only=True):
    therapist_id: uuid.UUID
    cells: list[TeamCell]


class TeamView(msgspec.Struct, kw_only=True):
    rubric: RubricPin
    role: RoleFilter
    date_from: dt.date | None
    date_to: dt.date | None
    min_cell_reviews: int
    labels: dict[str, str]
    """`<kind>:<key>` to the measure's label."""
    therapists: list[TeamRow]
