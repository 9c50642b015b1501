"""The outbox: every event a clinic system can learn of, numbered per organisation in commit order.

``event_sequences`` holds one row per organisation: the last number given (``last_seq``) and how far the feed
was pruned (``pruned_through``). A transaction that appends an event increments its organisation's row, which
locks it to the commit: a second writer of the organisation waits there until the first has committed, so the
numbers of one organisation's events are given, and become visible, in commit order (see
``supervise.events.repository``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime

__all__ = ["Event", "EventSequence"]


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("id"), Index("ix_events_occurred_at", "occurred_at"))

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventSequence(Base):
    __tablename__ = "event_sequences"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    """The number of the organisation's newest event."""
    pruned_through: Mapped[int] = mapped_column(BigInteger)
    """Every event up to this number was pruned (retention): a cursor before it has missed events."""
