"""Cases and recordings. No client names anywhere: a case is the clinic's pseudonymous reference."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["Case", "Recording"]


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


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "external_id"),
        ForeignKeyConstraint(["org_id", "case_id"], ["cases.org_id", "cases.id"]),
        ForeignKeyConstraint(["org_id", "therapist_id"], ["members.org_id", "members.id"]),
        CheckConstraint("medium IN ('video', 'audio', 'transcript')", name="medium"),
        CheckConstraint("duration_ms > 0", name="duration"),
        Index("ix_recordings_org_created", "org_id", "created_at", "id"),
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
    medium: Mapped[str] = mapped_column(String(16))
    media_uri: Mapped[str] = mapped_column(String(2048))
    media_sha256: Mapped[str] = mapped_column(String(64))
    consent_scope: Mapped[str] = mapped_column(String(32))
    consent_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    consent_withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    external_id: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
