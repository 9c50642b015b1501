"""Review requests (assignments), reviews (one rater's scoring of one recording) and their annotations.

``therapist_id`` is copied from the recording onto requests and reviews: every visibility rule starts from
the therapist, and the copy keeps those rules one indexed lookup away.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["Annotation", "Review", "ReviewRequest"]

_LIVE = text("state IN ('open', 'in_progress')")


class ReviewRequest(Base):
    __tablename__ = "review_requests"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "recording_id"], ["recordings.org_id", "recordings.id"]),
        ForeignKeyConstraint(["org_id", "reviewer_id"], ["members.org_id", "members.id"]),
        ForeignKeyConstraint(["org_id", "requested_by_id"], ["members.org_id", "members.id"]),
        CheckConstraint("role IN ('supervisor', 'peer', 'self')", name="role"),
        CheckConstraint("state IN ('open', 'in_progress', 'done', 'cancelled')", name="state"),
        Index("ix_review_requests_org_created", "org_id", "created_at", "id"),
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
    role: Mapped[str] = mapped_column(String(16))
    rubric_key: Mapped[str] = mapped_column(String(64))
    rubric_version: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Review(Base):
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
        CheckConstraint("role IN ('supervisor', 'peer', 'self')", name="role"),
        CheckConstraint("state IN ('draft', 'submitted', 'acknowledged')", name="state"),
        CheckConstraint("usefulness IS NULL OR usefulness BETWEEN 1 AND 5", name="usefulness"),
        CheckConstraint("revision >= 1", name="revision"),
        Index("ix_reviews_org_created", "org_id", "created_at", "id"),
        Index("ix_reviews_recording", "org_id", "recording_id"),
        Index("ix_reviews_reviewer", "org_id", "reviewer_id", "state"),
        Index("ix_reviews_therapist", "org_id", "therapist_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    recording_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    reviewer_id: Mapped[uuid.UUID]
    request_id: Mapped[uuid.UUID | None]
    role: Mapped[str] = mapped_column(String(16))
    rubric_key: Mapped[str] = mapped_column(String(64))
    rubric_version: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    amends_id: Mapped[uuid.UUID | None]
    amend_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[uuid.UUID | None]
    responses: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    usefulness: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
