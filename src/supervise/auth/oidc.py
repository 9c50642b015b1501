"""Signing in with a clinic's identity provider, and the providers an organisation trusts.

A token finds its organisation through its issuer and audience: that pair is registered by exactly one
organisation in the whole deployment (``identity_providers`` has it unique). Its member is the one its subject
was bound to, or, the first time, the person whose email address the token carries as verified
(``member_claim: sub``); or, every time, the person with its verified email (``member_claim: email``). Roles
come from that membership, never from the token. Every refusal, whatever its cause (a bad signature, an
expired token, an unknown issuer, a member unknown or deactivated), is the one 401 of :func:`rejected`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from supervise import cache, db, problems
from supervise.audit import service as audit
from supervise.auth import repository, tokens
from supervise.auth.jwks import url_problem
from supervise.auth.principal import Principal, Role
from supervise.auth.schemas import IdentityProviderCreate, IdentityProviderUpdate
from supervise.auth.tables import IdentityProvider, MemberIdentity
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, NotFound, PreconditionFailed, Unauthorized, Unprocessable
from supervise.members import service as members
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.runtime import Runtime

__all__ = [
    "Provider",
    "SignedIn",
    "create_provider",
    "delete_provider",
    "get_provider",
    "list_providers",
    "rejected",
    "sign_in",
    "update_provider",
]


@dataclass(frozen=True, slots=True)
class Provider:
    """What signing in needs of a registration, copied out of its row (which a rollback would expire)."""

    id: uuid.UUID
    org_id: uuid.UUID
    issuer: str
    audience: str
    jwks_uri: str | None
    member_claim: Literal["sub", "email"]


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    member: members.Member
    organisation: members.Organisation
    provider: Provider


def rejected() -> Unauthorized:
    # One message for every failure, so a caller learns nothing of which issuers, members or subjects exist.
    return Unauthorized(
        "The access token is invalid or expired, its issuer is not trusted, or it names no active member."
    )


async def sign_in(
    tx: Tx, runtime: Runtime, token: str, *, request_id: str | None, source_address: str | None
) -> SignedIn:
    """The member an access token signs in (see the module's docstring). The token is never logged."""
    seen = tokens.peek(token)
    if seen is None:
        raise rejected()
    found = await repository.providers_for(tx, seen.issuer, seen.audiences)
    if len(found) != 1:  # none, or a token for the audiences of two organisations at once
        raise rejected()
    row = found[0]
    provider = Provider(row.id, row.org_id, row.issuer, row.audience, row.jwks_uri, row.member_claim)
    keysets = runtime.keysets
    jwk = keysets.cached(provider.issuer, provider.jwks_uri, seen.kid)
    if jwk is None:
        # Fetching the keys may take seconds: not while this transaction holds a connection (and, on SQLite,
        # the database's write lock). Nothing was written yet.
        await repository.release(tx)
        jwk = await keysets.key(provider.issuer, provider.jwks_uri, seen.kid)
        if jwk is None:
            raise rejected()
    claims = tokens.verify(
        token,
        jwk,
        seen.algorithm,
        issuer=provider.issuer,
        audience=provider.audience,
        leeway=runtime.settings.oidc_leeway_seconds,
    )
    if claims is None:
        raise rejected()
    subject: str = claims["sub"]
    generation = await runtime.generations.read(provider.org_id)  # as for a key: it serves the request's caches
    if generation is not None:
        cache.note_generation(tx, provider.org_id, generation)
    member, bind = await _member_of(tx, provider, subject, claims)
    if member is None or not member.active:
        raise rejected()
    principal = Principal(
        org_id=provider.org_id,
        member_id=member.id,
        api_key_id=None,
        roles=frozenset(Role(r) for r in member.roles),
        scopes=None,  # whatever the member's roles allow; a token's own scopes grant nothing here
        request_id=request_id,
        source_address=source_address,
        token_issuer=provider.issuer,
        token_subject=subject,
    )
    if bind:
        binding = MemberIdentity(
            id=new_id(), org_id=provider.org_id, provider_id=provider.id, member_id=member.id, subject=subject
        )
        # Two first sign-ins of one person at once: the second meets the unique subject, and is asked to retry.
        await db.insert(tx, binding, conflict=rejected())
        await audit.record(tx, principal, "member.identity_bind", "member", member.id)
    organisation = await repository.organisation(tx, provider.org_id)
    repository.detach_rows(tx, member, organisation)  # the caller's rows outlive a rollback (a refusal)
    return SignedIn(principal, member, organisation, provider)


async def _member_of(
    tx: Tx, provider: Provider, subject: str, claims: dict[str, Any]
) -> tuple[members.Member | None, bool]:
    """The member the token names, and whether its subject is to be bound to them now."""
    if provider.member_claim == "sub":
        member = await repository.bound_member(tx, provider.org_id, provider.id, subject)
        if member is not None:
            return member, False
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return None, False
    member = await repository.member_by_email(tx, provider.org_id, email)
    if member is None or provider.member_claim == "email":
        return member, False
    if await repository.has_identity(tx, provider.org_id, provider.id, member.id):
        return None, False  # bound to another subject of this provider: a reused address does not inherit it
    return member, True


# ------------------------------------------------------------------------------------------- providers


def _check_urls(settings: Settings, issuer: str | None, jwks_uri: str | None) -> None:
    errors = []
    for name, url in (("issuer", issuer), ("jwks_uri", jwks_uri)):
        problem = url_problem(url, allow_http_loopback=settings.oidc_allow_http_loopback) if url else None
        if problem is not None:
            errors.append(FieldError(name, problem))
    if errors:
        raise Unprocessable(problems.ADDRESS_REFUSED, "The identity provider's URLs are not acceptable.", errors=errors)


def _registered() -> Conflict:
    return Conflict(
        problems.IDENTITY_PROVIDER_EXISTS,
        "This issuer and audience are registered already: have the provider issue this API's tokens with an "
        "audience of your own.",
    )


async def create_provider(
    tx: Tx, runtime: Runtime, principal: Principal, data: IdentityProviderCreate
) -> IdentityProvider:
    _check_urls(runtime.settings, data.issuer, data.jwks_uri)
    now = utcnow()
    provider = IdentityProvider(
        id=new_id(),
        org_id=principal.org_id,
        name=data.name,
        issuer=data.issuer,
        audience=data.audience,
        jwks_uri=data.jwks_uri,
        member_claim=data.member_claim,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await db.insert(tx, provider, conflict=_registered())
    await audit.record(tx, principal, "identity_provider.create", "identity_provider", provider.id)
    return provider


async def list_providers(tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest) -> Page[IdentityProvider]:
    result = await repository.page_providers(tx, page, runtime.cursors)
    audit.record_read(tx, principal, "identity_provider.list", "identity_provider", None)
    return result


async def _provider(tx: Tx, principal: Principal, provider_id: uuid.UUID) -> IdentityProvider:
    provider = await repository.get_provider(tx, principal.org_id, provider_id)
    if provider is None:
        raise NotFound("identity provider")
    return provider


async def get_provider(tx: Tx, principal: Principal, provider_id: uuid.UUID) -> IdentityProvider:
    provider = await _provider(tx, principal, provider_id)
    audit.record_read(tx, principal, "identity_provider.read", "identity_provider", provider.id)
    return provider


async def update_provider(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    provider_id: uuid.UUID,
    data: IdentityProviderUpdate,
    if_match: str | None,
) -> IdentityProvider:
    provider = await _provider(tx, principal, provider_id)
    check_if_match(if_match, provider.version)
    jwks_uri = None if isinstance(data.jwks_uri, msgspec.UnsetType) else data.jwks_uri
    _check_urls(runtime.settings, data.issuer, jwks_uri)
    changes: dict[str, object] = {
        name: value
        for name in ("name", "issuer", "audience", "member_claim")
        if (value := getattr(data, name)) is not None and value != getattr(provider, name)
    }
    if not isinstance(data.jwks_uri, msgspec.UnsetType) and data.jwks_uri != provider.jwks_uri:
        changes["jwks_uri"] = data.jwks_uri
    if not changes:
        return provider
    if "issuer" in changes:  # the subjects bound so far were another issuer's
        await repository.forget_identities(tx, provider)
    stale = PreconditionFailed("The identity provider changed while this update ran; read it again and retry.")
    await db.update(tx, provider, changes, stale=stale, conflict=_registered())
    await audit.record(tx, principal, "identity_provider.update", "identity_provider", provider.id)
    return provider


async def delete_provider(tx: Tx, principal: Principal, provider_id: uuid.UUID) -> None:
    """Its tokens stop working at once, and the subjects bound to members are forgotten."""
    provider = await _provider(tx, principal, provider_id)
    await repository.delete_provider(tx, provider)
    await audit.record(tx, principal, "identity_provider.delete", "identity_provider", provider_id)
