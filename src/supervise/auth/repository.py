"""Named queries over API keys, identity providers and the subjects bound to members."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from supervise.auth.tables import ApiKey, IdentityProvider, MemberIdentity
from supervise.db import Tx
from supervise.members.tables import Member, Organisation
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = [
    "KeyOwner",
    "bound_member",
    "delete_provider",
    "detach",
    "detach_rows",
    "forget_identities",
    "get_key",
    "get_provider",
    "has_identity",
    "key_with_owner",
    "member_by_email",
    "organisation",
    "page_member_keys",
    "page_providers",
    "providers_for",
    "release",
    "touch",
]


class KeyOwner(NamedTuple):
    """An API key with its member and their organisation."""

    api_key: ApiKey
    member: Member
    organisation: Organisation


async def key_with_owner(tx: Tx, key_id: uuid.UUID) -> KeyOwner | None:
    """The key, its member and their organisation, in one statement: every request starts with this."""
    row = (
        await tx.execute(
            select(ApiKey, Member, Organisation)
            .join(Member, (Member.org_id == ApiKey.org_id) & (Member.id == ApiKey.member_id))
            .join(Organisation, Organisation.id == ApiKey.org_id)
            .where(ApiKey.id == key_id)
        )
    ).first()
    return KeyOwner._make(row) if row else None


async def touch(tx: Tx, key: ApiKey, now: dt.datetime) -> None:
    """Record that ``key`` was used at ``now``, without marking the loaded row changed."""
    await tx.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    set_committed_value(key, "last_used_at", now)


def detach(tx: Tx, owner: KeyOwner) -> None:
    """Take the rows out of the session: they outlive it (a rollback would expire rows still in it)."""
    for row in owner:
        tx.expunge(row)


def detach_rows(tx: Tx, *rows: object) -> None:
    """Take ``rows`` out of the session (see :func:`detach`)."""
    for row in rows:
        tx.expunge(row)


async def release(tx: Tx) -> None:
    """End the transaction, which has read and written nothing that must be kept, to give its connection
    back while something slow happens; the session begins another at its next statement."""
    await tx.rollback()


async def live_keys(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID) -> list[ApiKey]:
    """The member's keys not yet revoked (expired ones included: revoking them too costs nothing)."""
    query = select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.member_id == member_id, ApiKey.revoked_at.is_(None))
    return list(await tx.scalars(query.order_by(ApiKey.id)))


async def get_key(tx: Tx, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    return await tx.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))


async def page_member_keys(tx: Tx, page: PageRequest, cursors: CursorCodec, member_id: uuid.UUID) -> Page[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == page.org_id, ApiKey.member_id == member_id)
    return await fetch_page(tx, stmt, ApiKey.created_at, ApiKey.id, page, cursors)


async def providers_for(tx: Tx, issuer: str, audiences: tuple[str, ...]) -> list[IdentityProvider]:
    """The registrations of ``issuer`` for any of ``audiences`` (each pair is registered at most once)."""
    if not audiences:
        return []
    stmt = select(IdentityProvider).where(IdentityProvider.issuer == issuer, IdentityProvider.audience.in_(audiences))
    return list(await tx.scalars(stmt.limit(2)))


async def bound_member(tx: Tx, org_id: uuid.UUID, provider_id: uuid.UUID, subject: str) -> Member | None:
    """The member ``subject`` of the provider was bound to."""
    stmt = (
        select(Member)
        .join(MemberIdentity, (MemberIdentity.org_id == Member.org_id) & (MemberIdentity.member_id == Member.id))
        .where(
            MemberIdentity.org_id == org_id,
            MemberIdentity.provider_id == provider_id,
            MemberIdentity.subject == subject,
        )
    )
    return await tx.scalar(stmt)


async def member_by_email(tx: Tx, org_id: uuid.UUID, email: str) -> Member | None:
    """The person with this email address in the organisation (compared without regard to case)."""
    stmt = select(Member).where(
        Member.org_id == org_id, Member.kind == "person", func.lower(Member.email) == email.lower()
    )
    return (await tx.scalars(stmt.limit(2))).one_or_none()


async def has_identity(tx: Tx, org_id: uuid.UUID, provider_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    """Whether a subject of the provider is bound to the member already."""
    stmt = select(MemberIdentity.id).where(
        MemberIdentity.org_id == org_id,
        MemberIdentity.provider_id == provider_id,
        MemberIdentity.member_id == member_id,
    )
    return await tx.scalar(stmt) is not None


async def organisation(tx: Tx, org_id: uuid.UUID) -> Organisation:
    return (await tx.scalars(select(Organisation).where(Organisation.id == org_id))).one()


async def get_provider(tx: Tx, org_id: uuid.UUID, provider_id: uuid.UUID) -> IdentityProvider | None:
    stmt = select(IdentityProvider).where(IdentityProvider.org_id == org_id, IdentityProvider.id == provider_id)
    return await tx.scalar(stmt)


async def page_providers(tx: Tx, page: PageRequest, cursors: CursorCodec) -> Page[IdentityProvider]:
    stmt = select(IdentityProvider).where(IdentityProvider.org_id == page.org_id)
    return await fetch_page(tx, stmt, IdentityProvider.created_at, IdentityProvider.id, page, cursors)


async def delete_provider(tx: Tx, provider: IdentityProvider) -> None:
    """Delete ``provider`` and unbind its subjects."""
    await forget_identities(tx, provider)
    await tx.delete(provider)
    await tx.flush()


async def forget_identities(tx: Tx, provider: IdentityProvider) -> None:
    """Unbind every subject of ``provider``."""
    await tx.execute(
        delete(MemberIdentity).where(
            MemberIdentity.org_id == provider.org_id, MemberIdentity.provider_id == provider.id
        )
    )
