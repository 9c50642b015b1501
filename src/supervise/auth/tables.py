"""API keys (stored as an HMAC of the secret, never the secret itself), trusted identity providers, and which
of a provider's subjects is which member."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from supervise.auth.keys import display_prefix
from supervise.clock import utcnow
from supervise.db import Base, UTCDateTime, Versioned, new_id

__all__ = ["ApiKey", "IdentityProvider", "MemberIdentity"]


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


class IdentityProvider(Versioned, Base):
    """An OpenID Connect issuer an organisation trusts: its access tokens for ``audience`` sign its members in."""

    __tablename__ = "identity_providers"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        # How a token finds its organisation: its issuer and audience are registered once in the whole
        # deployment, so they name exactly one organisation.
        UniqueConstraint("issuer", "audience"),
        CheckConstraint("member_claim IN ('sub', 'email')", name="member_claim"),
        Index("ix_identity_providers_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(512))
    audience: Mapped[str] = mapped_column(String(512))
    jwks_uri: Mapped[str | None] = mapped_column(String(1024))
    """Null: found through the issuer's ``/.well-known/openid-configuration``."""
    member_claim: Mapped[Literal["sub", "email"]] = mapped_column(String(16), default="sub")


class MemberIdentity(Base):
    """A provider's subject (``sub``) bound to a member, at the first token that proved the member's email."""

    __tablename__ = "member_identities"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "provider_id"], ["identity_providers.org_id", "identity_providers.id"]),
        ForeignKeyConstraint(["org_id", "member_id"], ["members.org_id", "members.id"]),
        UniqueConstraint("org_id", "provider_id", "subject"),
        UniqueConstraint("org_id", "provider_id", "member_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    provider_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID]
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
