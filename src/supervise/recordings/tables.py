"""Cases and recordings. No client names anywhere: a case is the clinic's pseudonymous reference."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column

from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime, Versioned, new_id

__all__ = ["Case", "Consent", "Media", "Recording"]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "therapist_id", "external_ref"),
        ForeignKeyConstraint(["org_id", "therapist_id"], ["members.org_id", "members.id"]),
        Index("ix_cases_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    therapist_id: Mapped[uuid.UUID]
    external_ref: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recording(Versioned, Base):
    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "external_id"),
        ForeignKeyConstraint(["org_id", "case_id"], ["cases.org_id", "cases.id"]),
        ForeignKeyConstraint(["org_id", "therapist_id"], ["members.org_id", "members.id"]),
        CheckConstraint("medium IN ('video', 'audio', 'transcript')", name="medium"),
        CheckConstraint("duration_ms > 0", name="duration"),
        Index("ix_recordings_org_created", "org_id", "created_at", "id"),
        Index("ix_recordings_org_updated", "org_id", "updated_at", "id"),  # updated_since
        Index("ix_recordings_case", "org_id", "case_id", "session_number"),
        Index("ix_recordings_therapist", "org_id", "therapist_id", "occurred_at"),
        # Consent expiries in time order: applying them to the rollups reads only the newly expired.
        Index("ix_recordings_consent_expiry", "org_id", "consent_expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[uuid.UUID]
    therapist_id: Mapped[uuid.UUID]
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    session_number: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    medium: Mapped[Literal["video", "audio", "transcript"]] = mapped_column(String(16))
    media_uri: Mapped[str] = mapped_column(String(2048))
    media_sha256: Mapped[str] = mapped_column(String(64))
    consent_scope: Mapped[Literal["supervision", "supervision_and_training"]] = mapped_column(String(32))
    consent_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    consent_withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    external_id: Mapped[str | None] = mapped_column(String(128))

    def _consent_holds(self, now: dt.datetime) -> bool:
        expired = self.consent_expires_at is not None and self.consent_expires_at <= now
        return self.consent_withdrawn_at is None and not expired

    def _consent_holds_sql(cls: Any, now: dt.datetime) -> ColumnElement[bool]:  # bound to the class
        return and_(
            cls.consent_withdrawn_at.is_(None), or_(cls.consent_expires_at.is_(None), cls.consent_expires_at > now)
        )

    consent_holds = hybrid_method(_consent_holds, _consent_holds_sql)
    """Consent for supervision use holds at ``now``: not withdrawn, not expired. ``recording.consent_holds(now)``
    answers for one recording; ``Recording.consent_holds(now)`` is the same rule in SQL, for queries."""

    @property
    def media(self) -> Media:
        return Media(self.media_uri, self.media_sha256)

    @property
    def consent(self) -> Consent:
        return Consent(
            self.consent_scope, self.consent_expires_at, self.consent_withdrawn_at, self.consent_holds(utcnow())
        )


@dataclass(frozen=True, slots=True)
class Media:
    """Where a recording's media is and what it hashes to (the API's ``media``)."""

    uri: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Consent:
    """A recording's consent as it stands now (the API's ``consent``)."""

    scope: str
    expires_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    active: bool
