"""Organisations (tenants), their members and supervision links."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime, Versioned, new_id

__all__ = ["Member", "Organisation", "SupervisionLink"]


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    """The settings' ETag: ``PATCH /v1/organisation`` needs it in ``If-Match``."""
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    """IANA time zone (``Europe/Berlin``): a session counts in the day, week and month it occurred in here."""
    client_ratings_to_peers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Whether peer reviewers who submitted their own review of a session see its client ratings too; by
    default only the therapist, their supervisors and admins do."""


class Member(Versioned, Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "email"),
        CheckConstraint("kind IN ('person', 'integration')", name="kind"),
        Index("ix_members_org_created", "org_id", "created_at", "id"),
        Index("ix_members_org_updated", "org_id", "updated_at", "id"),  # updated_since
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[Literal["person", "integration"]] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_supervisor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_clinician: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def roles(self) -> list[str]:
        flags = (("admin", self.is_admin), ("supervisor", self.is_supervisor), ("clinician", self.is_clinician))
        return [role for role, held in flags if held]

    @roles.setter
    def roles(self, roles: Iterable[str]) -> None:
        held = set(roles)
        self.is_admin, self.is_supervisor, self.is_clinician = (
            "admin" in held,
            "supervisor" in held,
            "clinician" in held,
        )


class SupervisionLink(Base):
    __tablename__ = "supervision_links"
    __table_args__ = (
        UniqueConstraint("org_id", "supervisor_id", "supervisee_id"),
        ForeignKeyConstraint(["org_id", "supervisor_id"], ["members.org_id", "members.id"]),
        ForeignKeyConstraint(["org_id", "supervisee_id"], ["members.org_id", "members.id"]),
        CheckConstraint("supervisor_id <> supervisee_id", name="not_self"),
        Index("ix_supervision_links_org_created", "org_id", "created_at", "id"),
        Index("ix_supervision_links_supervisee", "org_id", "supervisee_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    supervisor_id: Mapped[uuid.UUID]
    supervisee_id: Mapped[uuid.UUID]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
