"""Who is calling: the member behind an API key or an identity provider's access token, their roles and the
key's scopes."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

__all__ = ["Principal", "Role", "Scope"]


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CLINICIAN = "clinician"


class Scope(enum.StrEnum):
    """What an API key may do. A key without scopes may do whatever its member's roles allow."""

    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    SUPERVISION_READ = "supervision:read"
    SUPERVISION_WRITE = "supervision:write"
    API_KEYS_READ = "api-keys:read"
    API_KEYS_WRITE = "api-keys:write"
    AUDIT_READ = "audit:read"
    RECORDINGS_READ = "recordings:read"
    RECORDINGS_WRITE = "recordings:write"
    REVIEWS_READ = "reviews:read"
    REVIEWS_WRITE = "reviews:write"
    CLIENT_RATINGS_READ = "client-ratings:read"
    CLIENT_RATINGS_WRITE = "client-ratings:write"
    EVENTS_READ = "events:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: uuid.UUID
    member_id: uuid.UUID
    api_key_id: uuid.UUID | None
    """Null when the member signed in with an identity provider's access token."""
    roles: frozenset[Role]
    scopes: frozenset[Scope] | None
    request_id: str | None = None
    source_address: str | None = None
    token_issuer: str | None = None
    """The issuer of the access token the member signed in with (``iss``), for the audit log."""
    token_subject: str | None = None
    """That token's subject (``sub``)."""

    @property
    def credential_id(self) -> uuid.UUID:
        """What the per-credential rate limit counts: the API key, or the member signed in with a token."""
        return self.api_key_id if self.api_key_id is not None else self.member_id

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles
