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
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime, Versioned

__all__ = [
    "AttemptAction",
    "DeliveryState",
    "Event",
    "EventSequence",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
]

DeliveryState = Literal["pending", "succeeded", "failed"]
AttemptAction = Literal["retry", "succeeded", "disabled"]


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


class WebhookEndpoint(Versioned, Base):
    """A URL an organisation's events are pushed to, signed per Standard Webhooks with its secret (and, during a
    rotation, with the previous one too, until ``previous_secret_until``)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        Index("ix_webhook_endpoints_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    """Why delivery stopped by itself (410, or failures past the retry schedule); cleared on reactivation."""
    secret: Mapped[str] = mapped_column(String(64))
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event to one endpoint: attempted until it succeeds, or the endpoint is disabled."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "endpoint_id"], ["webhook_endpoints.org_id", "webhook_endpoints.id"]),
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "org_id", "endpoint_id", "created_at", "id"),
        CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name="state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    endpoint_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    """The event as sent: the same bytes on every attempt."""
    state: Mapped[DeliveryState] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    """When it is due; while an attempt runs, when its lease runs out (a worker killed mid-attempt loses
    nothing: the delivery is due again then)."""
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class WebhookDeliveryAttempt(Base):
    """One attempt of a delivery, kept beside it (and pruned with it): the delivery log.

    The row is written when the attempt is claimed, without an outcome (``next_action`` null: under way), and
    completed in the transaction that records the outcome on the delivery. An attempt whose worker died keeps
    no outcome until the delivery is claimed again; then it is completed as lost (``error`` says so). No byte
    of the receiver's answer is kept beyond its status: its body is never read."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        Index("ix_webhook_delivery_attempts_log", "org_id", "delivery_id", "started_at", "id"),
        UniqueConstraint("delivery_id", "attempt"),
        CheckConstraint("next_action IN ('retry', 'succeeded', 'disabled')", name="next_action"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    """1 for the first; numbering goes on across redeliveries."""
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    """Our words for what went wrong (a timeout, a refused address, a status); printable and bounded."""
    next_action: Mapped[AttemptAction | None] = mapped_column(String(16))
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When ``next_action`` is ``retry``: when the next attempt was due."""
