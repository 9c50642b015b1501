"""Named queries over organisations, members and supervision links."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, bindparam, or_, select

from supervise.db import Tx
from supervise.members.tables import Member, Organisation, SupervisionLink
from supervise.pagination import CursorCodec, Page, PageRequest, changed_since, fetch_page

__all__ = [
    "existing_link",
    "get_link",
    "get_member",
    "get_organisation",
    "lock_active_admins",
    "member_by_email",
    "page_links",
    "page_members",
    "remove_link",
    "supervisees_of",
    "supervises",
    "update_organisation",
]


# Built once: building even this statement per request was an eighth of a member's read.
_MEMBER_BY_ID = select(Member).where(Member.org_id == bindparam("org_id"), Member.id == bindparam("member_id"))


async def get_organisation(tx: Tx, org_id: uuid.UUID, *, for_update: bool = False) -> Organisation:
    stmt = select(Organisation).where(Organisation.id == org_id)
    organisation = await tx.scalar(stmt.with_for_update() if for_update else stmt)
    assert organisation is not None  # every principal's organisation exists
    return organisation


async def update_organisation(tx: Tx, organisation: Organisation, changes: dict[str, object]) -> None:
    """Apply ``changes`` and take the next version; the caller holds the row (``get_organisation(for_update)``)."""
    for name, value in changes.items():
        setattr(organisation, name, value)
    organisation.version += 1
    await tx.flush()


async def get_member(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID) -> Member | None:
    member: Member | None = await tx.scalar(_MEMBER_BY_ID, {"org_id": org_id, "member_id": member_id})
    return member


async def member_by_email(tx: Tx, org_id: uuid.UUID, email: str) -> Member | None:
    return await tx.scalar(select(Member).where(Member.org_id == org_id, Member.email == email))


def _members(org_id: uuid.UUID, *, role: str | None, active: bool | None) -> Select[Member]:
    stmt = select(Member).where(Member.org_id == org_id)
    if role is not None:
        stmt = stmt.where(getattr(Member, f"is_{role}").is_(True))
    if active is not None:
        stmt = stmt.where(Member.active.is_(active))
    return stmt


async def page_members(
    tx: Tx,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    role: str | None,
    active: bool | None,
    updated_since: dt.datetime | None = None,
) -> Page[Member]:
    stmt, order = changed_since(
        _members(page.org_id, role=role, active=active), Member.created_at, Member.updated_at, updated_since
    )
    return await fetch_page(tx, stmt, order, Member.id, page, cursors)


async def lock_active_admins(tx: Tx, org_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the organisation's active admins, locked until commit (PostgreSQL ``FOR UPDATE``; SQLite's
    write transaction already excludes other writers)."""
    stmt = select(Member.id).where(Member.org_id == org_id, Member.is_admin.is_(True), Member.active.is_(True))
    return list((await tx.scalars(stmt.with_for_update())).all())


async def supervises(tx: Tx, org_id: uuid.UUID, supervisor_id: uuid.UUID, supervisee_id: uuid.UUID) -> bool:
    link = await tx.scalar(
        select(SupervisionLink.id).where(
            SupervisionLink.org_id == org_id,
            SupervisionLink.supervisor_id == supervisor_id,
            SupervisionLink.supervisee_id == supervisee_id,
        )
    )
    return link is not None


async def supervisees_of(tx: Tx, org_id: uuid.UUID, supervisor_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await tx.scalars(
        select(SupervisionLink.supervisee_id).where(
            SupervisionLink.org_id == org_id, SupervisionLink.supervisor_id == supervisor_id
        )
    )
    return sorted(rows.all())


async def get_link(tx: Tx, org_id: uuid.UUID, link_id: uuid.UUID) -> SupervisionLink | None:
    return await tx.scalar(
        select(SupervisionLink).where(SupervisionLink.org_id == org_id, SupervisionLink.id == link_id)
    )


def _links(
    org_id: uuid.UUID,
    *,
    involving: uuid.UUID | None,
    supervisor_id: uuid.UUID | None,
    supervisee_id: uuid.UUID | None,
) -> Select[SupervisionLink]:
    stmt = select(SupervisionLink).where(SupervisionLink.org_id == org_id)
    if involving is not None:
        stmt = stmt.where(or_(SupervisionLink.supervisor_id == involving, SupervisionLink.supervisee_id == involving))
    if supervisor_id is not None:
        stmt = stmt.where(SupervisionLink.supervisor_id == supervisor_id)
    if supervisee_id is not None:
        stmt = stmt.where(SupervisionLink.supervisee_id == supervisee_id)
    return stmt


async def existing_link(
    tx: Tx, org_id: uuid.UUID, supervisor_id: uuid.UUID, supervisee_id: uuid.UUID
) -> SupervisionLink | None:
    stmt = _links(org_id, involving=None, supervisor_id=supervisor_id, supervisee_id=supervisee_id)
    return await tx.scalar(stmt)


async def page_links(
    tx: Tx,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    involving: uuid.UUID | None,
    supervisor_id: uuid.UUID | None,
    supervisee_id: uuid.UUID | None,
) -> Page[SupervisionLink]:
    stmt = _links(page.org_id, involving=involving, supervisor_id=supervisor_id, supervisee_id=supervisee_id)
    return await fetch_page(tx, stmt, SupervisionLink.created_at, SupervisionLink.id, page, cursors)


async def remove_link(tx: Tx, link: SupervisionLink) -> None:
    await tx.delete(link)
    await tx.flush()
