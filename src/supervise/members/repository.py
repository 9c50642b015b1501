"""Named queries over organisations, members and supervision links."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.members.tables import Member, Organisation, SupervisionLink

__all__ = [
    "get_link",
    "get_member",
    "get_organisation",
    "lock_active_admins",
    "member_by_email",
    "select_links",
    "select_members",
]


async def get_organisation(tx: AsyncSession, org_id: uuid.UUID) -> Organisation | None:
    return await tx.get(Organisation, org_id)


async def get_member(tx: AsyncSession, org_id: uuid.UUID, member_id: uuid.UUID) -> Member | None:
    return await tx.scalar(select(Member).where(Member.org_id == org_id, Member.id == member_id))


async def member_by_email(tx: AsyncSession, org_id: uuid.UUID, email: str) -> Member | None:
    return await tx.scalar(select(Member).where(Member.org_id == org_id, Member.email == email))


def select_members(org_id: uuid.UUID, *, role: str | None = None, active: bool | None = None) -> Select[Member]:
    stmt = select(Member).where(Member.org_id == org_id)
    if role is not None:
        stmt = stmt.where(getattr(Member, f"is_{role}").is_(True))
    if active is not None:
        stmt = stmt.where(Member.active.is_(active))
    return stmt


async def lock_active_admins(tx: AsyncSession, org_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the organisation's active admins, locked until commit (PostgreSQL ``FOR UPDATE``; SQLite's
    write transaction already excludes other writers)."""
    stmt = select(Member.id).where(Member.org_id == org_id, Member.is_admin.is_(True), Member.active.is_(True))
    return list((await tx.scalars(stmt.with_for_update())).all())


async def get_link(tx: AsyncSession, org_id: uuid.UUID, link_id: uuid.UUID) -> SupervisionLink | None:
    return await tx.scalar(
        select(SupervisionLink).where(SupervisionLink.org_id == org_id, SupervisionLink.id == link_id)
    )


def select_links(
    org_id: uuid.UUID,
    *,
    involving: uuid.UUID | None = None,
    supervisor_id: uuid.UUID | None = None,
    supervisee_id: uuid.UUID | None = None,
) -> Select[SupervisionLink]:
    stmt = select(SupervisionLink).where(SupervisionLink.org_id == org_id)
    if involving is not None:
        stmt = stmt.where(or_(SupervisionLink.supervisor_id == involving, SupervisionLink.supervisee_id == involving))
    if supervisor_id is not None:
        stmt = stmt.where(SupervisionLink.supervisor_id == supervisor_id)
    if supervisee_id is not None:
        stmt = stmt.where(SupervisionLink.supervisee_id == supervisee_id)
    return stmt
