"""Named queries over API keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from supervise.auth.tables import ApiKey
from supervise.db import Tx
from supervise.members.tables import Member, Organisation
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = ["KeyOwner", "detach", "get_key", "key_with_owner", "page_member_keys", "touch"]


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


async def live_keys(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID) -> list[ApiKey]:
    """The member's keys not yet revoked (expired ones included: revoking them too costs nothing)."""
    query = select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.member_id == member_id, ApiKey.revoked_at.is_(None))
    return list(await tx.scalars(query.order_by(ApiKey.id)))


async def get_key(tx: Tx, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    return await tx.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))


async def page_member_keys(tx: Tx, page: PageRequest, cursors: CursorCodec, member_id: uuid.UUID) -> Page[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == page.org_id, ApiKey.member_id == member_id)
    return await fetch_page(tx, stmt, ApiKey.created_at, ApiKey.id, page, cursors)
