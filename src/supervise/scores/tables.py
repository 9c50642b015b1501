"""Scores of submitted reviews, and rollups of them kept current in the submitting transaction.

``review_scores`` holds one row per current (not superseded) submitted review and measure: each session-level
item's value and each score the rubric computed; ``counted`` says whether the rollups include it, which they do
only while the recording's consent holds. The rollups hold count, sum, sum of squares, min and max per
organisation x therapist x rubric version x measure x rater role, per day, ISO week and month and over all
time; aggregates read them, so their cost grows with the buckets asked for, not with the number of reviews.
Rows whose ``role`` is ``s:<rater set>`` are session rollups: the same figures over session means
(:mod:`.sessions`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true

from supervise.db import Base, UTCDateTime
from supervise.rubrics.tables import UsesRubric

__all__ = [
    "ConsentSweep",
    "MeasureKind",
    "ReviewFlag",
    "ReviewScore",
    "RollupDay",
    "RollupMonth",
    "RollupTotal",
    "RollupWeek",
]


MeasureKind = Literal["item", "score"]
"""``item``: a rubric item's value; ``score``: a subscale, the total or another score the rubric computes."""


def _kind() -> CheckConstraint:
    return CheckConstraint("measure_kind IN ('item', 'score')", name="measure_kind")


class ReviewScore(UsesRubric, Base):
    __tablename__ = "review_scores"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "review_id"], ["reviews.org_id", "reviews.id"], ondelete="CASCADE"),
        _kind(),
        # The raw GROUP BY the rollups replace (kept for verification and reliability), covering.
        Index(
            "ix_review_scores_rollup",
            "org_id",
            "rubric_key",
            "rubric_version",
            "therapist_id",
            "measure_kind",
            "measure",
            "role",
            "occurred_at",
            "value",
        ),
        # Per-session figures: one GROUP BY per recording over the counted scores (aggregates.sessions), covering.
        Index(
            "ix_review_scores_sessions",
            "org_id",
            "rubric_key",
            "rubric_version",
            "therapist_id",
            "measure_kind",
            "measure",
            "recording_id",
            "role",
            "local_day",
            "counted",
            "value",
        ),
        Index("ix_review_scores_recording", "org_id", "recording_id"),
        Index("ix_review_scores_case", "org_id", "case_id", "session_number"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    review_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    measure_kind: Mapped[MeasureKind] = mapped_column(String(8), primary_key=True)
    measure: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    therapist_id: Mapped[uuid.UUID]
    reviewer_id: Mapped[uuid.UUID | None]
    """None for a client rating."""
    recording_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID]
    session_number: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    local_day: Mapped[dt.date] = mapped_column(Date)
    """The session's date in its organisation's time zone: the day, week and month its rollups count it in."""
    counted: Mapped[bool] = mapped_column(Boolean, server_default=true())
    """Whether the rollups include it: only while the recording's consent holds (:func:`.service.recount`)."""


class ConsentSweep(Base):
    """Up to when an organisation's consent expiries have been applied to its rollups (:func:`.service.sweep`)."""

    __tablename__ = "consent_sweeps"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    swept_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class _Rollup:
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    therapist_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rubric_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    rubric_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    measure_kind: Mapped[MeasureKind] = mapped_column(String(8), primary_key=True)
    measure: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    total_sq: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


def _period_key() -> PrimaryKeyConstraint:
    # One therapist's periods of one measure are adjacent: a series reads one range.
    return PrimaryKeyConstraint(
        "org_id", "therapist_id", "rubric_key", "rubric_version", "measure_kind", "measure", "role", "day"
    )


class RollupDay(_Rollup, Base):
    """Per day the session occurred (in the organisation's time zone): the edges of a date range that cuts a
    week or a month."""

    __tablename__ = "score_rollups_daily"
    __table_args__ = (_period_key(), _kind())

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    """The day the sessions occurred, in the organisation's time zone."""


class RollupWeek(_Rollup, Base):
    """Per ISO week (Monday to Sunday, local) the session occurred: weekly series."""

    __tablename__ = "score_rollups_weekly"
    __table_args__ = (_period_key(), _kind())

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    """The Monday that starts the week."""


class RollupMonth(_Rollup, Base):
    """Per calendar month (local) the session occurred: monthly, quarterly and date-ranged views."""

    __tablename__ = "score_rollups_monthly"
    __table_args__ = (_period_key(), _kind())

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    """The first day of the month."""


class RollupTotal(_Rollup, Base):
    """Over all time: what a team view without a date range reads (one row per cell)."""

    __tablename__ = "score_rollups_total"
    __table_args__ = (_kind(),)


class ReviewFlag(UsesRubric, Base):
    """A flag a current submitted review's result raised (below a cutoff, an unresolved confrontation...):
    the flags feed reads these, newest first."""

    __tablename__ = "review_flags"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "review_id"], ["reviews.org_id", "reviews.id"], ondelete="CASCADE"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity"),
        Index("ix_review_flags_feed", "org_id", "created_at", "id"),
        Index("ix_review_flags_therapist", "org_id", "therapist_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    review_id: Mapped[uuid.UUID]
    recording_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[Literal["info", "warning", "critical"]] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(500))
    threshold: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    @property
    def at(self) -> dt.datetime:
        """When the review that raised it was submitted."""
        return self.created_at
