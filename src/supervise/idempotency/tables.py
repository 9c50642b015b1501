"""Remembered responses of POST requests that carried an ``Idempotency-Key``."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from supervise.db import Base, UTCDateTime

__all__ = ["IdempotencyRecord"]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_org_created", "org_id", "created_at"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    """Keys are remembered per member: a member's front end and command line (two API keys) share retries. A
    replay never reaches past what the asking key may do: its permission is checked before the replay."""
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    api_key_id: Mapped[uuid.UUID | None]
    """The key that made the first request (null: an identity provider's access token)."""
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    location: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
