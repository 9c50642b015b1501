"""API keys, identity providers and the caller in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from supervise.auth.principal import Scope
from supervise.members.schemas import MemberOut, Name

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "ApiKeyPage",
    "IdentityProviderCreate",
    "IdentityProviderOut",
    "IdentityProviderPage",
    "IdentityProviderUpdate",
    "Me",
    "MeIdentity",
    "MeOrganisation",
]


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
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class MeOrganisation(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class MeIdentity(msgspec.Struct, kw_only=True):
    provider_id: uuid.UUID
    issuer: str
    subject: str
    """The access token's ``sub``."""


class Me(msgspec.Struct, kw_only=True):
    member: MemberOut
    organisation: MeOrganisation
    api_key: ApiKeyOut | None
    """The API key in use; null when signed in with an identity provider's access token."""
    identity: MeIdentity | None = None
    """The identity provider and subject of the access token in use; null with an API key."""


Issuer = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=512,
        examples=["https://login.clinic.example/realms/staff"],
        description="The provider's issuer identifier, exactly as its tokens' `iss` claim has it. https only.",
    ),
]
Audience = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=512,
        examples=["api://supervise"],
        description="What the provider puts in `aud` of access tokens meant for this API.",
    ),
]
JwksUri = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=1024,
        examples=["https://login.clinic.example/realms/staff/protocol/openid-connect/certs"],
        description="Where the provider publishes its signing keys (JWKS). https only.",
    ),
]
MemberClaim = Annotated[
    Literal["sub", "email"],
    msgspec.Meta(
        description="How a token names its member. `sub`: the first token whose verified `email` (with "
        "`email_verified: true`) is a member's binds its subject to that member, and from then on the subject "
        "alone identifies them. `email`: every token's verified `email` is matched to a member's."
    ),
]


class IdentityProviderCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    issuer: Issuer
    audience: Audience
    jwks_uri: JwksUri | None = None
    """Null: found through ``<issuer>/.well-known/openid-configuration``."""
    member_claim: MemberClaim = "sub"


class IdentityProviderUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields left out stay as they are; ``jwks_uri: null`` switches to discovery. Changing the issuer forgets
    every subject bound so far (they were the old issuer's)."""

    name: Name | None = None
    issuer: Issuer | None = None
    audience: Audience | None = None
    jwks_uri: JwksUri | msgspec.UnsetType | None = msgspec.UNSET
    member_claim: MemberClaim | None = None


class IdentityProviderOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    issuer: str
    audience: str
    jwks_uri: str | None
    member_claim: Literal["sub", "email"]
    created_at: dt.datetime
    updated_at: dt.datetime


class IdentityProviderPage(msgspec.Struct, kw_only=True):
    items: list[IdentityProviderOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""
