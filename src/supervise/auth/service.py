"""Authenticating API keys (and, through :mod:`supervise.auth.oidc`, access tokens), and issuing, listing and
revoking keys."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from dataclasses import dataclass, replace

from supervise import cache, db, problems
from supervise.audit import service as audit
from supervise.auth import oidc, repository
from supervise.auth.keys import ApiKeyHasher, parse_key
from supervise.auth.principal import Principal, Role, Scope
from supervise.auth.schemas import ApiKeyCreate
from supervise.auth.tables import ApiKey
from supervise.auth.tokens import looks_like_jwt
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, Unauthorized, Unprocessable
from supervise.members import service as members
from supervise.pagination import Page, PageRequest
from supervise.runtime import Runtime

__all__ = [
    "MAX_KEY_LIFETIME",
    "Caller",
    "IssuedKey",
    "authenticate",
    "create_key",
    "get_key",
    "issue_key",
    "list_keys",
    "revoke_key",
]

MAX_KEY_LIFETIME = dt.timedelta(days=3653)


@dataclass(frozen=True)
class Caller:
    """The principal, and the rows behind it, loaded once while authenticating."""

    principal: Principal
    member: members.Member
    organisation: members.Organisation
    api_key: ApiKey | None
    """The API key in use; ``None`` for an access token, whose provider is :attr:`provider`."""
    provider: oidc.Provider | None = None


async def authenticate(
    tx: Tx,
    runtime: Runtime,
    authorization: str | None,
    *,
    request_id: str | None,
    source_address: str | None,
) -> Caller:
    """The caller behind an ``Authorization: Bearer`` key, or access token (:func:`supervise.auth.oidc.sign_in`).

    A key seen before is checked against what was loaded for it then (the secret's HMAC, expiry, scopes, the
    member's roles and state) as long as its organisation has not changed since (``supervise.cache``): a
    revocation, a deactivation or a change of roles anywhere is seen by the next request on every worker. The
    counter read here also serves the request's other caches.
    """
    if not authorization:
        raise Unauthorized("Send an API key or an access token as 'Authorization: Bearer <credential>'.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    bearer = scheme.lower() == "bearer"
    if bearer and looks_like_jwt(token):
        signed_in = await oidc.sign_in(tx, runtime, token, request_id=request_id, source_address=source_address)
        return Caller(signed_in.principal, signed_in.member, signed_in.organisation, None, signed_in.provider)
    parsed = parse_key(token) if bearer else None
    if parsed is None:
        raise Unauthorized("The Authorization header carries neither a well-formed API key nor an access token.")
    now = utcnow()
    resolution = dt.timedelta(seconds=runtime.settings.key_last_used_resolution_seconds)
    presented = runtime.hasher.hash(parsed.secret)  # once, whichever path follows
    seen = runtime.callers.peek(parsed.key_id)
    # A remembered key answers from memory only for its own secret. A wrong secret takes the path of a key id
    # never seen (the same statement and the same hashing), so the time of a refusal tells nothing of which key
    # ids exist; nor does it make the key's owner lose what is remembered for them.
    if seen is not None and not (seen[2].api_key and hmac.compare_digest(presented, seen[2].api_key.secret_hash)):
        seen = None
    generation = None
    if seen is not None:
        generation = await runtime.generations.read(seen[0])
        if generation is not None:
            cache.note_generation(tx, seen[0], generation)
        known: Caller | None = runtime.callers.get(seen[0], generation, parsed.key_id)
        remembered = known.api_key if known is not None else None
        if (
            known is not None
            and remembered is not None
            and remembered.last_used_at is not None
            and now - remembered.last_used_at < resolution
        ):
            if remembered.expires_at is not None and remembered.expires_at <= now:
                raise _rejected()
            principal = replace(known.principal, request_id=request_id, source_address=source_address)
            return replace(known, principal=principal)
    found = await repository.key_with_owner(tx, parsed.key_id)
    if found is None or not hmac.compare_digest(presented, found.api_key.secret_hash):
        raise _rejected()
    key, member = found.api_key, found.member
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now) or not member.active:
        runtime.callers.discard(parsed.key_id)
        raise _rejected()
    if key.last_used_at is None or now - key.last_used_at >= resolution:
        # Written now, before anything else this transaction locks: every request takes its key's row first,
        # so two requests with one key cannot lock in opposite orders.
        await repository.touch(tx, key, now)
    principal = Principal(
        org_id=key.org_id,
        member_id=member.id,
        api_key_id=key.id,
        roles=frozenset(Role(r) for r in member.roles),
        scopes=frozenset(Scope(s) for s in key.scopes) if key.scopes is not None else None,
        request_id=request_id,
        source_address=source_address,
    )
    repository.detach(tx, found)  # the caller outlives this session
    caller = Caller(principal, member, found.organisation, key)
    # Remembered under the counter read before these rows were (a first sighting only records the
    # organisation, -1 never matches): a change committed in between makes the next request reload.
    runtime.callers.put(key.org_id, generation if generation is not None and seen is not None else -1, key.id, caller)
    return caller


def _rejected() -> Unauthorized:
    # One message for every failure, so a caller cannot probe which keys exist.
    return Unauthorized("The API key is unknown, revoked or expired, or its member is deactivated.")


def _within_lifetime(expires_at: dt.datetime) -> bool:
    try:
        return utcnow() < expires_at.astimezone(dt.UTC) <= utcnow() + MAX_KEY_LIFETIME
    except OverflowError:  # offsets that push the instant past year 9999
        return False


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str
    """The whole key, ``svk_<id>_<secret>``: returned once, never stored."""


async def issue_key(
    tx: Tx,
    hasher: ApiKeyHasher,
    org_id: uuid.UUID,
    member_id: uuid.UUID,
    name: str,
    scopes: list[Scope] | None = None,
    expires_at: dt.datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> IssuedKey:
    secret = hasher.new_secret()
    key = ApiKey(
        id=new_id(),
        org_id=org_id,
        member_id=member_id,
        name=name,
        secret_hash=hasher.hash(secret),
        scopes=sorted(scopes) if scopes is not None else None,
        created_at=utcnow(),
        expires_at=expires_at,
        created_by=created_by,
    )
    await db.insert(tx, key, conflict=Conflict(problems.CONCURRENT_WRITE, "An API key with this id exists; retry."))
    return IssuedKey(key, hasher.full_key(key.id, secret))


async def _member_whose_keys(tx: Tx, principal: Principal, member_id: uuid.UUID, verb: str) -> members.Member:
    """The member whose keys these are (404 if none), if ``principal`` may ``verb`` them."""
    member = await members.find_member(tx, principal.org_id, member_id)
    if member is None:
        raise NotFound("member")
    if member.id != principal.member_id and not principal.is_admin:
        raise Forbidden(problems.NOT_PERMITTED, f"Only an admin may {verb} another member's API keys.")
    return member


async def create_key(
    tx: Tx, runtime: Runtime, principal: Principal, member_id: uuid.UUID, data: ApiKeyCreate
) -> IssuedKey:
    member = await _member_whose_keys(tx, principal, member_id, "create")
    errors = []
    if not member.active:
        errors.append(FieldError("member_id", "the member is deactivated"))
    scopes = data.scopes
    if scopes is not None and len(set(scopes)) != len(scopes):
        errors.append(FieldError("scopes", "each scope may be given once"))
    if member.id != principal.member_id and member.is_admin and member.kind == "person" and not data.on_behalf:
        # A key made for another admin lets its maker act with all that admin's authority, in that admin's name:
        # it takes saying so. (An admin's first key, before they can sign in, is made this way.)
        errors.append(FieldError("on_behalf", "a key for another admin needs on_behalf: true"))
    if member.kind == "integration" and not scopes:
        errors.append(FieldError("scopes", "an integration's key must name its scopes"))
    if principal.scopes is not None:
        wider = set(scopes or Scope) - principal.scopes
        if wider:
            raise Forbidden(
                problems.SCOPE_NOT_HELD,
                f"This API key cannot grant scopes it does not hold: {', '.join(sorted(wider))}.",
            )
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            errors.append(FieldError("expires_at", "needs a timezone offset"))
        elif not _within_lifetime(data.expires_at):
            errors.append(FieldError("expires_at", "must be in the future and within 10 years"))
    if errors:
        raise Unprocessable(problems.INVALID_VALUE, "The API key cannot be created as asked.", errors=errors)
    issued = await issue_key(
        tx, runtime.hasher, member.org_id, member.id, data.name, scopes, data.expires_at, principal.member_id
    )
    await audit.record(tx, principal, "api_key.create", "api_key", issued.key.id)
    return issued


async def list_keys(
    tx: Tx, runtime: Runtime, principal: Principal, member_id: uuid.UUID, page: PageRequest
) -> Page[ApiKey]:
    owner = (await _member_whose_keys(tx, principal, member_id, "list")).id
    result = await repository.page_member_keys(tx, page, runtime.cursors, owner)
    if owner != principal.member_id:
        audit.record_read(tx, principal, "api_key.list", "member", owner)
    return result


async def _visible_key(tx: Tx, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    """Your own keys, or (admin) anyone's; any other key does not exist for you."""
    key = await repository.get_key(tx, principal.org_id, key_id)
    if key is None or (key.member_id != principal.member_id and not principal.is_admin):
        raise NotFound("API key")
    return key


async def get_key(tx: Tx, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await _visible_key(tx, principal, key_id)
    if key.member_id != principal.member_id:
        audit.record_read(tx, principal, "api_key.read", "api_key", key.id)
    return key


async def revoke_key(tx: Tx, principal: Principal, key_id: uuid.UUID) -> None:
    key = await _visible_key(tx, principal, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await db.save(tx)
        await audit.record(tx, principal, "api_key.revoke", "api_key", key.id)


async def revoke_keys_of(tx: Tx, principal: Principal, member_id: uuid.UUID) -> None:
    """A deactivated member's keys are all revoked (each audited), so reactivating the member revives none:
    they get new keys, made for them anew."""
    now = utcnow()
    keys = await repository.live_keys(tx, principal.org_id, member_id)
    for key in keys:
        key.revoked_at = now
    if keys:
        await db.save(tx)
    for key in keys:
        await audit.record(tx, principal, "api_key.revoke", "api_key", key.id)
