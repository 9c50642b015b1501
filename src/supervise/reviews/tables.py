"""Review requests (assignments), reviews (one rater's scoring of one recording) and their annotations.

``therapist_id`` is copied from the recording onto requests and reviews: every visibility rule starts from
the therapist, and the copy keeps those rules one indexed lookup away.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime, Versioned, new_id
from supervise.rubrics.tables import UsesRubric

__all__ = [
    "Acknowledged",
    "Annotation",
    "AnnotationKind",
    "ReferenceReview",
    "RequestState",
    "Review",
    "ReviewRequest",
    "ReviewRole",
    "ReviewState",
    "ReviewerRole",
]

ReviewerRole = Literal["supervisor", "peer", "self"]
"""The roles a member reviews in (what a review request assigns)."""
ReviewRole = Literal["supervisor", "peer", "self", "client"]
"""A review's role: a member's, or ``client`` — a client rating (``supervise.client_ratings``), with no
reviewer."""
RequestState = Literal["open", "in_progress", "done", "cancelled"]
ReviewState = Literal["draft", "submitted", "acknowledged"]
AnnotationKind = Literal["strength", "growth", "rupture", "repair", "note"]

_LIVE = text("state IN ('open', 'in_progress')")


class ReviewRequest(UsesRubric, Versioned, Base):
    __tablename__ = "review_requests"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "recording_id"], ["recordings.org_id", "recordings.id"]),
        ForeignKeyConstraint(["org_id", "reviewer_id"], ["members.org_id", "members.id"]),
        ForeignKeyConstraint(["org_id", "requested_by_id"], ["members.org_id", "members.id"]),
        CheckConstraint("role IN ('supervisor', 'peer', 'self')", name="role"),
        CheckConstraint("state IN ('open', 'in_progress', 'done', 'cancelled')", name="state"),
        Index("ix_review_requests_org_created", "org_id", "created_at", "id"),
        Index("ix_review_requests_org_updated", "org_id", "updated_at", "id"),  # updated_since
        Index("ix_review_requests_reviewer", "org_id", "reviewer_id", "state"),
        Index("ix_review_requests_recording", "org_id", "recording_id"),
        # One live assignment per reviewer, recording and rubric: a second one is a 409, even when two
        # assigners race.
        Index(
            "uq_review_requests_live",
            "org_id",
            "recording_id",
            "reviewer_id",
            "rubric_key",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    recording_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    reviewer_id: Mapped[uuid.UUID]
    requested_by_id: Mapped[uuid.UUID]
    role: Mapped[ReviewerRole] = mapped_column(String(16))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[RequestState] = mapped_column(String(16), default="open")


class Review(UsesRubric, Versioned, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        # A reviewer scores a recording with a rubric once; corrections are further revisions.
        UniqueConstraint("org_id", "recording_id", "reviewer_id", "rubric_key", "revision"),
        UniqueConstraint("org_id", "request_id"),
        UniqueConstraint("org_id", "amends_id"),
        ForeignKeyConstraint(["org_id", "recording_id"], ["recordings.org_id", "recordings.id"]),
        ForeignKeyConstraint(["org_id", "reviewer_id"], ["members.org_id", "members.id"]),
        ForeignKeyConstraint(["org_id", "request_id"], ["review_requests.org_id", "review_requests.id"]),
        ForeignKeyConstraint(["org_id", "amends_id"], ["reviews.org_id", "reviews.id"]),
        CheckConstraint("role IN ('supervisor', 'peer', 'self', 'client')", name="role"),
        # A client is no member: a client rating has no reviewer, and every other review has one.
        CheckConstraint("(role = 'client') = (reviewer_id IS NULL)", name="client_has_no_reviewer"),
        CheckConstraint("state IN ('draft', 'submitted', 'acknowledged')", name="state"),
        CheckConstraint("usefulness IS NULL OR usefulness BETWEEN 1 AND 5", name="usefulness"),
        CheckConstraint("revision >= 1", name="revision"),
        Index("ix_reviews_org_created", "org_id", "created_at", "id"),
        Index("ix_reviews_org_updated", "org_id", "updated_at", "id"),  # updated_since
        Index("ix_reviews_recording", "org_id", "recording_id"),
        Index("ix_reviews_reviewer", "org_id", "reviewer_id", "state"),
        Index("ix_reviews_therapist", "org_id", "therapist_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    recording_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    reviewer_id: Mapped[uuid.UUID | None]
    """The member who reviewed; none for a client rating."""
    request_id: Mapped[uuid.UUID | None]
    role: Mapped[ReviewRole] = mapped_column(String(16))
    state: Mapped[ReviewState] = mapped_column(String(16), default="draft")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    amends_id: Mapped[uuid.UUID | None]
    amend_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[uuid.UUID | None]
    responses: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[str | None] = mapped_column("acknowledgement", Text)
    """The therapist's answer when acknowledging."""
    usefulness: Mapped[int | None] = mapped_column(Integer)

    @hybrid_property
    def received_at(self) -> dt.datetime | None:
        """When a submitted revision reached this service: a member's submission, or a client rating's arrival
        (its ``submitted_at`` is the ``completed_at`` the clinic system gives, which may be days earlier); null
        for a draft. What the FHIR export ranges over and an Observation's ``issued``."""
        return self.created_at if self.role == "client" else self.submitted_at

    @received_at.inplace.expression
    @classmethod
    def _received_at_expression(cls) -> ColumnElement[dt.datetime | None]:
        return case((cls.role == "client", cls.created_at), else_=cls.submitted_at)

    @property
    def acknowledgement(self) -> Acknowledged | None:
        if self.acknowledged_at is None or self.usefulness is None:
            return None
        return Acknowledged(self.acknowledged_at, self.usefulness, self.response)


class Annotation(Base):
    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "review_id"], ["reviews.org_id", "reviews.id"], ondelete="CASCADE"),
        CheckConstraint("kind IN ('strength', 'growth', 'rupture', 'repair', 'note')", name="kind"),
        CheckConstraint("start_ms >= 0 AND (end_ms IS NULL OR end_ms > start_ms)", name="span"),
        Index("ix_annotations_review", "org_id", "review_id", "start_ms"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    review_id: Mapped[uuid.UUID]
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int | None] = mapped_column(Integer)
    item_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[AnnotationKind] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The therapist's acknowledgement of a review (the API's ``acknowledgement``)."""

    at: dt.datetime
    usefulness: int
    response: str | None


class ReferenceReview(UsesRubric, Base):
    """A review an admin marked as the reference ("gold") for a training recording: raters of the same
    recording with the same rubric version are calibrated against it. One per recording and rubric version."""

    __tablename__ = "reference_reviews"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "review_id"], ["reviews.org_id", "reviews.id"], ondelete="CASCADE"),
        UniqueConstraint("org_id", "recording_id", "rubric_key", "rubric_version"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    review_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    recording_id: Mapped[uuid.UUID]
    marked_by_id: Mapped[uuid.UUID]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
