"""Rules for organisations, members and supervision links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import service as audit
from supervise.auth.principal import Principal, Role
from supervise.db import new_id, utcnow
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from supervise.members import repository
from supervise.members.schemas import MemberCreate, MemberUpdate, SupervisionLinkCreate
from supervise.members.tables import Member, Organisation, SupervisionLink
from supervise.pagination import Page, PageRequest, fetch_page
from supervise.preconditions import check_if_match
from supervise.runtime import Runtime

__all__ = [
    "create_link",
    "create_member",
    "create_organisation",
    "delete_link",
    "get_member",
    "list_links",
    "list_members",
    "update_member",
]


def _apply_roles(member: Member, roles: list[Role]) -> None:
    member.is_admin = Role.ADMIN in roles
    member.is_supervisor = Role.SUPERVISOR in roles
    member.is_clinician = Role.CLINICIAN in roles


def _check_roles(roles: list[Role]) -> None:
    if len(set(roles)) != len(roles):
        raise Unprocessable("Each role may be given once.", errors=[FieldError("roles", "duplicate role")])


async def _email_free(tx: AsyncSession, org_id: uuid.UUID, email: str, member_id: uuid.UUID | None = None) -> None:
    other = await repository.member_by_email(tx, org_id, email)
    if other is not None and other.id != member_id:
        raise Conflict(
            "Another member of this organisation has this email address.",
            errors=[FieldError("email", "already in use")],
        )


@dataclass(frozen=True)
class NewOrganisation:
    organisation: Organisation
    admin: Member


async def create_organisation(tx: AsyncSession, name: str, admin_name: str, admin_email: str) -> NewOrganisation:
    """An organisation and its first admin (operators do this from the command line)."""
    org = Organisation(id=new_id(), name=name, created_at=utcnow())
    now = utcnow()
    admin = Member(
        id=new_id(),
        org_id=org.id,
        kind="person",
        name=admin_name,
        email=admin_email,
        active=True,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _apply_roles(admin, [Role.ADMIN])
    tx.add(org)
    await tx.flush()
    tx.add(admin)
    await tx.flush()
    await audit.record(tx, None, "organisation.create", "organisation", org.id, org_id=org.id)
    await audit.record(tx, None, "member.create", "member", admin.id, org_id=org.id)
    return NewOrganisation(org, admin)


async def create_member(tx: AsyncSession, principal: Principal, data: MemberCreate) -> Member:
    _check_roles(data.roles)
    if data.kind == "person" and data.email is None:
        raise Unprocessable("A person needs an email address.", errors=[FieldError("email", "required for a person")])
    if data.email is not None:
        await _email_free(tx, principal.org_id, data.email)
    now = utcnow()
    member = Member(
        id=new_id(),
        org_id=principal.org_id,
        kind=data.kind,
        name=data.name,
        email=data.email,
        active=True,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _apply_roles(member, data.roles)
    tx.add(member)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("Another member of this organisation has this email address.") from None
    await audit.record(tx, principal, "member.create", "member", member.id)
    return member


async def list_members(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    role: Role | None,
    active: bool | None,
) -> Page[Member]:
    stmt = repository.select_members(principal.org_id, role=role.value if role else None, active=active)
    result = await fetch_page(tx, stmt, Member.created_at, Member.id, page, runtime.cursors)
    audit.record_read(tx, principal, "member.list", "member", None)
    return result


async def get_member(tx: AsyncSession, principal: Principal, member_id: uuid.UUID) -> Member:
    member = await repository.get_member(tx, principal.org_id, member_id)
    if member is None:
        raise NotFound("member")
    if member.id != principal.member_id:
        audit.record_read(tx, principal, "member.read", "member", member.id)
    return member


async def update_member(
    tx: AsyncSession, principal: Principal, member_id: uuid.UUID, data: MemberUpdate, if_match: str | None
) -> Member:
    member = await repository.get_member(tx, principal.org_id, member_id)
    if member is None:
        raise NotFound("member")
    is_self = member.id == principal.member_id
    if not principal.is_admin:
        if not is_self:
            raise Forbidden("Only an admin may change another member.")
        if data.roles is not None or data.active is not None:
            raise Forbidden("Only an admin may change roles or deactivate a member.")
    check_if_match(if_match, member.version)
    values: dict[str, object] = {}
    if data.name is not None:
        values["name"] = data.name
    if data.email is not None and data.email != member.email:
        if member.kind == "integration":
            raise Unprocessable("An integration has no email address.", errors=[FieldError("email", "not allowed")])
        await _email_free(tx, principal.org_id, data.email, member.id)
        values["email"] = data.email
    if data.roles is not None:
        _check_roles(data.roles)
        if is_self and Role.ADMIN not in data.roles:
            raise Conflict("You cannot remove your own admin role; ask another admin.")
        values.update(
            is_admin=Role.ADMIN in data.roles,
            is_supervisor=Role.SUPERVISOR in data.roles,
            is_clinician=Role.CLINICIAN in data.roles,
        )
    if data.active is not None:
        if is_self and not data.active:
            raise Conflict("You cannot deactivate yourself; ask another admin.")
        values["active"] = data.active
    loses_admin = (
        member.is_admin and member.active and (values.get("is_admin") is False or values.get("active") is False)
    )
    if loses_admin:
        # Lock every active admin row first, so two admins demoting each other at once cannot both succeed.
        remaining = set(await repository.lock_active_admins(tx, principal.org_id)) - {member.id}
        if not remaining:
            raise Conflict("The organisation would have no active admin left; make someone else admin first.")
    if values:
        # Version-conditional: of two writers holding the same ETag, exactly one wins.
        try:
            result = await tx.execute(
                update(Member)
                .where(Member.org_id == principal.org_id, Member.id == member.id, Member.version == member.version)
                .values(**values, version=member.version + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        except IntegrityError:
            raise Conflict(
                "Another member of this organisation has this email address.",
                errors=[FieldError("email", "already in use")],
            ) from None
        if result.rowcount != 1:  # type: ignore[attr-defined]
            # Another writer changed it between our read and our write (even under ``If-Match: *``).
            raise PreconditionFailed("The member changed while this update ran; read it again and retry.")
        await tx.refresh(member)
        await audit.record(tx, principal, "member.update", "member", member.id)
    return member


async def create_link(tx: AsyncSession, principal: Principal, data: SupervisionLinkCreate) -> SupervisionLink:
    supervisor = await repository.get_member(tx, principal.org_id, data.supervisor_id)
    supervisee = await repository.get_member(tx, principal.org_id, data.supervisee_id)
    errors = []
    if supervisor is None:
        errors.append(FieldError("supervisor_id", "no member with this id"))
    elif not (supervisor.is_supervisor and supervisor.active):
        errors.append(FieldError("supervisor_id", "not an active member with the supervisor role"))
    if supervisee is None:
        errors.append(FieldError("supervisee_id", "no member with this id"))
    elif not (supervisee.active and supervisee.kind == "person"):
        errors.append(FieldError("supervisee_id", "not an active person"))
    if data.supervisor_id == data.supervisee_id:
        errors.append(FieldError("supervisee_id", "a member cannot supervise themselves"))
    if errors:
        raise Unprocessable("The supervision link is not valid.", errors=errors)
    existing = await tx.scalar(
        repository.select_links(principal.org_id, supervisor_id=data.supervisor_id, supervisee_id=data.supervisee_id)
    )
    if existing is not None:
        raise Conflict(f"This supervision link already exists: {existing.id}.")
    link = SupervisionLink(
        id=new_id(),
        org_id=principal.org_id,
        supervisor_id=data.supervisor_id,
        supervisee_id=data.supervisee_id,
        created_at=utcnow(),
    )
    tx.add(link)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("This supervision link already exists.") from None
    await audit.record(tx, principal, "supervision_link.create", "supervision_link", link.id)
    return link


async def list_links(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    supervisor_id: uuid.UUID | None,
    supervisee_id: uuid.UUID | None,
) -> Page[SupervisionLink]:
    """Admins see every link; other members see the links they are part of."""
    stmt = repository.select_links(
        principal.org_id,
        involving=None if principal.is_admin else principal.member_id,
        supervisor_id=supervisor_id,
        supervisee_id=supervisee_id,
    )
    result = await fetch_page(tx, stmt, SupervisionLink.created_at, SupervisionLink.id, page, runtime.cursors)
    audit.record_read(tx, principal, "supervision_link.list", "supervision_link", None)
    return result


async def delete_link(tx: AsyncSession, principal: Principal, link_id: uuid.UUID) -> None:
    link = await repository.get_link(tx, principal.org_id, link_id)
    if link is None:
        raise NotFound("supervision link")
    await tx.delete(link)
    await tx.flush()
    await audit.record(tx, principal, "supervision_link.delete", "supervision_link", link.id)
