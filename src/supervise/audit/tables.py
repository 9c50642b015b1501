"""Audit events. Append-only: database triggers (see the migration) refuse UPDATE and DELETE."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime, new_id

__all__ = ["AuditCheckpoint", "AuditEvent"]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("org_id", "seq"),
        Index("ix_audit_events_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_member_id: Mapped[uuid.UUID | None]
    api_key_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID | None]
    outcome: Mapped[Literal["success", "denied"]] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(128))
    source_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    """How many attempts the event stands for: 1, except for repeated refusals coalesced into one event
    (:mod:`supervise.audit.denials`). Hashed only when it is not 1, so the chains written before it verify."""
    token_issuer: Mapped[str | None] = mapped_column(String(512))
    """The identity provider whose access token the actor signed in with (null: an API key or no one)."""
    token_subject: Mapped[str | None] = mapped_column(String(255))
    """That token's ``sub``."""

    @property
    def occurred_at(self) -> dt.datetime:
        return self.created_at


class AuditCheckpoint(Base):
    """A chain's head signed with the server secret (``supervise audit checkpoint``): whoever rewrites the events
    before it, even with the triggers off and every later hash recomputed, cannot sign the new head without the
    secret. Append-only, like the events."""

    __tablename__ = "audit_checkpoints"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
