"""API keys: stored as an HMAC of the secret, never the secret itself."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from supervise.auth.keys import display_prefix
from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime, new_id

__all__ = ["ApiKey"]


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "member_id"], ["members.org_id", "members.id"]),
        ForeignKeyConstraint(["org_id", "created_by"], ["members.org_id", "members.id"]),
        Index("ix_api_keys_member_created", "org_id", "member_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    member_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID | None]
    """The member who made the key (null: the command line); not its owner when an admin made it for them."""

    @property
    def prefix(self) -> str:
        """The public part of the key, enough to recognise it."""
        return display_prefix(self.id)
