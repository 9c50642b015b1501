"""How each client rating came in, and the one-time form links a client rates through.

A client rating is a :class:`~supervise.reviews.tables.Review` with role ``client`` and no reviewer (the client
is no member, and is never named): its responses, result and scores are kept as any review's. What only a
client rating has — where it came from, the clinic system's ``external_id``, when the client completed it — is
kept beside it in ``client_ratings``. A session has at most one client rating per rubric.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime
from supervise.rubrics.tables import UsesRubric

__all__ = ["ClientForm", "ClientRating", "Source"]

Source = Literal["integration", "link"]


class ClientRating(UsesRubric, Base):
    __tablename__ = "client_ratings"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "review_id"], ["reviews.org_id", "reviews.id"]),
        ForeignKeyConstraint(["org_id", "recording_id"], ["recordings.org_id", "recordings.id"]),
        # One client rating of a session per rubric, whichever way it came in.
        UniqueConstraint("org_id", "recording_id", "rubric_key"),
        UniqueConstraint("org_id", "external_id"),
        CheckConstraint("source IN ('integration', 'link')", name="source"),
        CheckConstraint("(source = 'link') = (form_id IS NOT NULL)", name="form"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    review_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    recording_id: Mapped[uuid.UUID]
    source: Mapped[Source] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200))
    """The clinic system's id of the completed form: the same id pushed again is the same rating."""
    submitted_by_id: Mapped[uuid.UUID | None]
    """The member (an integration) whose key submitted it; none for a form link."""
    form_id: Mapped[uuid.UUID | None]
    completed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    """When the client completed the form."""


class ClientForm(UsesRubric, Base):
    """A one-time link a client rates one session through. Its token is shown once and stored only as its
    SHA-256 digest (the token is 256 random bits: a digest cannot be searched back to it)."""

    __tablename__ = "client_forms"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("token_digest"),
        ForeignKeyConstraint(["org_id", "recording_id"], ["recordings.org_id", "recordings.id"]),
        ForeignKeyConstraint(["org_id", "created_by_id"], ["members.org_id", "members.id"]),
        Index("ix_client_forms_recording", "org_id", "recording_id"),
        Index("ix_client_forms_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    recording_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by_id: Mapped[uuid.UUID]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_id: Mapped[uuid.UUID | None]
    """The rating submitted through it."""

    def state(self, now: dt.datetime) -> Literal["open", "used", "revoked", "expired"]:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "open"
