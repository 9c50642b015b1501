"""Rules for organisations, members and supervision links.

Other domains read members through :func:`find_member`, :func:`supervises` and :func:`supervisees`; the rows
they get are :class:`Member`s.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal, Role
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from supervise.members import repository
from supervise.members.schemas import MemberCreate, MemberUpdate, OrganisationUpdate, SupervisionLinkCreate
from supervise.members.tables import Member, Organisation, SupervisionLink
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.runtime import Runtime
from supervise.scores import service as scores

__all__ = [
    "Member",
    "NewOrganisation",
    "Organisation",
    "create_link",
    "create_member",
    "create_organisation",
    "delete_link",
    "find_member",
    "get_member",
    "get_organisation",
    "list_links",
    "list_members",
    "supervisees",
    "supervises",
    "update_member",
    "update_organisation",
]


def _check_roles(roles: list[Role]) -> None:
    if len(set(roles)) != len(roles):
        raise Unprocessable(
            problems.INVALID_VALUE, "Each role may be given once.", errors=[FieldError("roles", "duplicate role")]
        )


def _email_taken() -> Conflict:
    return Conflict(
        problems.EMAIL_TAKEN,
        "Another member of this organisation has this email address.",
        errors=[FieldError("email", "already in use")],
    )


async def _email_free(tx: Tx, org_id: uuid.UUID, email: str, member_id: uuid.UUID | None = None) -> None:
    other = await repository.member_by_email(tx, org_id, email)
    if other is not None and other.id != member_id:
        raise _email_taken()


def _new_member(org_id: uuid.UUID, kind: str, name: str, email: str | None, roles: list[Role]) -> Member:
    now = utcnow()
    member = Member(
        id=new_id(),
        org_id=org_id,
        kind=kind,
        name=name,
        email=email,
        active=True,
        version=1,
        created_at=now,
        updated_at=now,
    )
    member.roles = roles
    return member


@dataclass(frozen=True)
class NewOrganisation:
    organisation: Organisation
    admin: Member


async def create_organisation(tx: Tx, name: str, admin_name: str, admin_email: str) -> NewOrganisation:
    """An organisation and its first admin (operators do this from the command line)."""
    org = Organisation(id=new_id(), name=name, created_at=utcnow())
    await db.insert(tx, org, conflict=Conflict(problems.CONCURRENT_WRITE, "An organisation with this id exists."))
    admin = _new_member(org.id, "person", admin_name, admin_email, [Role.ADMIN])
    await db.insert(tx, admin, conflict=_email_taken())
    await audit.record(tx, None, "organisation.create", "organisation", org.id, org_id=org.id)
    await audit.record(tx, None, "member.create", "member", admin.id, org_id=org.id)
    return NewOrganisation(org, admin)


async def get_organisation(tx: Tx, org_id: uuid.UUID) -> Organisation:
    """The caller's own organisation (there is no other one to name)."""
    return await repository.get_organisation(tx, org_id)


async def update_organisation(
    tx: Tx, principal: Principal, data: OrganisationUpdate, if_match: str | None
) -> Organisation:
    organisation = await repository.get_organisation(tx, principal.org_id, for_update=True)
    check_if_match(if_match, organisation.version)
    changes = {
        name: value
        for name in ("name", "time_zone", "client_ratings_to_peers")
        if (value := getattr(data, name)) is not None and value != getattr(organisation, name)
    }
    if "time_zone" in changes:
        try:
            ZoneInfo(str(changes["time_zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise Unprocessable(
                problems.INVALID_VALUE,
                "The time zone is not valid.",
                errors=[FieldError("time_zone", "not an IANA time zone")],
            ) from None
        if await scores.has_scores(tx, organisation.id):
            raise Conflict(
                problems.TIME_ZONE_FIXED,
                "The time zone cannot change once reviews were scored: their days, weeks and months would move.",
                errors=[FieldError("time_zone", "fixed once reviews are scored")],
            )
    if changes:  # the row is locked (and SQLite's writer is alone): no other writer in between
        await repository.update_organisation(tx, organisation, changes)
        await audit.record(tx, principal, "organisation.update", "organisation", organisation.id)
    return organisation


async def create_member(tx: Tx, principal: Principal, data: MemberCreate) -> Member:
    _check_roles(data.roles)
    if data.kind == "person" and data.email is None:
        raise Unprocessable(
            problems.INVALID_VALUE,
            "A person needs an email address.",
            errors=[FieldError("email", "required for a person")],
        )
    if data.email is not None:
        await _email_free(tx, principal.org_id, data.email)
    member = _new_member(principal.org_id, data.kind, data.name, data.email, data.roles)
    await db.insert(tx, member, conflict=_email_taken())
    await audit.record(tx, principal, "member.create", "member", member.id)
    return member


async def list_members(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    role: Role | None,
    active: bool | None,
    updated_since: dt.datetime | None = None,
) -> Page[Member]:
    result = await repository.page_members(
        tx, page, runtime.cursors, role=role.value if role else None, active=active, updated_since=updated_since
    )
    audit.record_read(tx, principal, "member.list", "member", None)
    return result


async def get_member(tx: Tx, principal: Principal, member_id: uuid.UUID) -> Member:
    member = await repository.get_member(tx, principal.org_id, member_id)
    if member is None:
        raise NotFound("member")
    if member.id != principal.member_id:
        audit.record_read(tx, principal, "member.read", "member", member.id)
    return member


async def update_member(
    tx: Tx, principal: Principal, member_id: uuid.UUID, data: MemberUpdate, if_match: str | None
) -> Member:
    member = await repository.get_member(tx, principal.org_id, member_id)
    if member is None:
        raise NotFound("member")
    is_self = member.id == principal.member_id
    if not principal.is_admin:
        if not is_self:
            raise Forbidden(problems.NOT_PERMITTED, "Only an admin may change another member.")
        if data.roles is not None or data.active is not None:
            raise Forbidden(problems.NOT_PERMITTED, "Only an admin may change roles or deactivate a member.")
    check_if_match(if_match, member.version)
    changes: dict[str, object] = {}
    if data.name is not None:
        changes["name"] = data.name
    if data.email is not None and data.email != member.email:
        if member.kind == "integration":
            raise Unprocessable(
                problems.INVALID_VALUE,
                "An integration has no email address.",
                errors=[FieldError("email", "not allowed")],
            )
        await _email_free(tx, principal.org_id, data.email, member.id)
        changes["email"] = data.email
    if data.roles is not None:
        _check_roles(data.roles)
        if is_self and Role.ADMIN not in data.roles:
            raise Conflict(problems.SELF_LOCKOUT, "You cannot remove your own admin role; ask another admin.")
        changes["roles"] = data.roles
    if data.active is not None:
        if is_self and not data.active:
            raise Conflict(problems.SELF_LOCKOUT, "You cannot deactivate yourself; ask another admin.")
        changes["active"] = data.active
    loses_admin = (
        member.is_admin
        and member.active
        and ((data.roles is not None and Role.ADMIN not in data.roles) or changes.get("active") is False)
    )
    if loses_admin:
        # Lock every active admin row first, so two admins demoting each other at once cannot both succeed.
        remaining = set(await repository.lock_active_admins(tx, principal.org_id)) - {member.id}
        if not remaining:
            raise Conflict(
                problems.LAST_ADMIN, "The organisation would have no active admin left; make someone else admin first."
            )
    if changes:
        # Another writer changed it between our read and our write (even under ``If-Match: *``): 412.
        stale = PreconditionFailed("The member changed while this update ran; read it again and retry.")
        await db.update(tx, member, changes, stale=stale, conflict=_email_taken())
        await audit.record(tx, principal, "member.update", "member", member.id)
    return member


async def create_link(tx: Tx, principal: Principal, data: SupervisionLinkCreate) -> SupervisionLink:
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
        raise Unprocessable(problems.INVALID_REFERENCE, "The supervision link is not valid.", errors=errors)
    existing = await repository.existing_link(tx, principal.org_id, data.supervisor_id, data.supervisee_id)
    if existing is not None:
        raise Conflict(
            problems.LINK_EXISTS, f"This supervision link already exists: {existing.id}.", link_id=existing.id
        )
    link = SupervisionLink(
        id=new_id(),
        org_id=principal.org_id,
        supervisor_id=data.supervisor_id,
        supervisee_id=data.supervisee_id,
        created_at=utcnow(),
    )
    await db.insert(tx, link, conflict=Conflict(problems.LINK_EXISTS, "This supervision link already exists."))
    await audit.record(tx, principal, "supervision_link.create", "supervision_link", link.id)
    return link


async def list_links(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    supervisor_id: uuid.UUID | None,
    supervisee_id: uuid.UUID | None,
) -> Page[SupervisionLink]:
    """Admins see every link; other members see the links they are part of."""
    result = await repository.page_links(
        tx,
        page,
        runtime.cursors,
        involving=None if principal.is_admin else principal.member_id,
        supervisor_id=supervisor_id,
        supervisee_id=supervisee_id,
    )
    audit.record_read(tx, principal, "supervision_link.list", "supervision_link", None)
    return result


async def delete_link(tx: Tx, principal: Principal, link_id: uuid.UUID) -> None:
    link = await repository.get_link(tx, principal.org_id, link_id)
    if link is None:
        raise NotFound("supervision link")
    await repository.remove_link(tx, link)
    await audit.record(tx, principal, "supervision_link.delete", "supervision_link", link.id)


# ----------------------------------------------------------------------------------- for other domains


async def find_member(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID) -> Member | None:
    """A member of the organisation, without auditing the read (the caller's own rules decide what it
    discloses)."""
    return await repository.get_member(tx, org_id, member_id)


async def supervises(tx: Tx, org_id: uuid.UUID, supervisor_id: uuid.UUID, supervisee_id: uuid.UUID) -> bool:
    return await repository.supervises(tx, org_id, supervisor_id, supervisee_id)


async def supervisees(tx: Tx, org_id: uuid.UUID, supervisor_id: uuid.UUID) -> list[uuid.UUID]:
    """The therapists ``supervisor_id`` supervises, in id order."""
    return await repository.supervisees_of(tx, org_id, supervisor_id)
