"""API keys and the caller in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from supervise.auth.principal import Scope
from supervise.members.schemas import MemberOut, Name

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "ApiKeyPage", "Me", "OrganisationOut"]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=16, examples=[["recordings:write"]])] | None = None
    """Limits the key to these scopes; null lets it do whatever the member's roles allow.
    Keys of an integration must name their scopes. A scoped key can only create keys within its scopes."""
    expires_at: dt.datetime | None = None
    """When the key stops working (an aware timestamp in the future); null for no expiry."""
    on_behalf: bool = False
    """Needed (true) to make a key for another member who is an admin person: its maker could then act with
    that admin's authority. The key records its maker (``created_by``) and every audit event made with it
    names them (``key_made_by``)."""


class ApiKeyOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    member_id: uuid.UUID
    prefix: str
    """The public part of the key, enough to recognise it."""
    name: str
    scopes: list[Scope] | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    """Refreshed at most once a minute."""
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: uuid.UUID | None
    """The member who made the key: its owner, an admin who made it for them, or null (the command line)."""


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    secret: str | None
    """The whole key, shown once. Null when an ``Idempotency-Key`` replays this response: secrets are never
    stored, so a lost secret means revoking the key and creating another."""


class ApiKeyPage(msgspec.Struct, kw_only=True):
    items: list[ApiKeyOut]
    next_cursor: str | None


class OrganisationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class Me(msgspec.Struct, kw_only=True):
    member: MemberOut
    organisation: OrganisationOut
    api_key: ApiKeyOut
