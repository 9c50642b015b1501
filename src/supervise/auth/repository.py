"""Named queries over API keys."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.auth.tables import ApiKey
from supervise.members.tables import Member, Organisation

__all__ = ["get_key", "key_with_owner", "select_member_keys"]


async def key_with_owner(tx: AsyncSession, key_id: uuid.UUID) -> tuple[ApiKey, Member, Organisation] | None:
    """The key, its member and their organisation, in one statement: every request starts with this."""
    row = (
        await tx.execute(
            select(ApiKey, Member, Organisation)
            .join(Member, (Member.org_id == ApiKey.org_id) & (Member.id == ApiKey.member_id))
            .join(Organisation, Organisation.id == ApiKey.org_id)
            .where(ApiKey.id == key_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def get_key(tx: AsyncSession, org_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    return await tx.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))


def select_member_keys(org_id: uuid.UUID, member_id: uuid.UUID) -> Select[ApiKey]:
    return select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.member_id == member_id)
