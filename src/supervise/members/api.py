"""``/v1/members`` and ``/v1/supervision-links``."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from supervise.auth import permissions
from supervise.auth import service as keys
from supervise.auth.principal import Principal, Role
from supervise.db import Tx
from supervise.http import Made, Once, problem_responses, to
from supervise.members import service
from supervise.members.schemas import (
    MemberCreate,
    MemberOut,
    MemberPage,
    MemberUpdate,
    OrganisationOut,
    OrganisationUpdate,
    SupervisionLinkCreate,
    SupervisionLinkOut,
    SupervisionLinkPage,
)
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import ETAG, LOCATION, Cursor, IfMatch, Limit, UpdatedSince, instant, page
from supervise.preconditions import etag
from supervise.runtime import Runtime

__all__ = ["MemberController", "OrganisationController", "SupervisionLinkController"]


class OrganisationController(Controller):
    path = "/v1/organisation"
    tags = ["Members"]

    @get(
        "/",
        operation_id="getOrganisation",
        permission=permissions.MembersRead,
        summary="Your organisation and its settings",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403),
    )
    async def get_organisation(
        self, tx: NamedDependency[Tx], principal: NamedDependency[Principal]
    ) -> Response[OrganisationOut]:
        organisation = await service.get_organisation(tx, principal.org_id)
        return Response(to(OrganisationOut, organisation), headers={"ETag": etag(organisation.version)})

    @patch(
        "/",
        operation_id="updateOrganisation",
        permission=permissions.OrganisationAdmin,
        summary="Change your organisation's settings (admin)",
        description="Its name, and whether peers see client ratings. Needs If-Match. Audited.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 412, 422, 428),
    )
    async def update_organisation(
        self,
        data: JSONBody[OrganisationUpdate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[OrganisationOut]:
        organisation = await service.update_organisation(tx, principal, data, if_match)
        return Response(to(OrganisationOut, organisation), headers={"ETag": etag(organisation.version)})


class MemberController(Controller):
    path = "/v1/members"
    tags = ["Members"]

    @post(
        "/",
        operation_id="createMember",
        permission=permissions.MembersAdmin,
        summary="Add a member (admin)",
        description="Adds a person or an integration (a clinic system's service account) to the organisation.",
        status_code=201,
        response_headers=[LOCATION, ETAG],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_member(
        self,
        data: JSONBody[MemberCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[MemberOut]:
        async def create() -> Made:
            member = await service.create_member(tx, principal, data)
            return Made(to(MemberOut, member), f"/v1/members/{member.id}")

        return await once(data, create)

    @get(
        "/",
        operation_id="listMembers",
        permission=permissions.MembersRead,
        summary="List members",
        description="Every member of the organisation, oldest first. Reading it is audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_members(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        role: Annotated[Role | None, QueryParameter(description="Only members holding this role.")] = None,
        active: Annotated[bool | None, QueryParameter(description="Only active (or deactivated) members.")] = None,
        updated_since: UpdatedSince = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> MemberPage:
        scope = f"members?role={role}&active={active}&u={updated_since}"
        found = await service.list_members(
            tx,
            runtime,
            principal,
            page(principal, scope, cursor, limit),
            role=role,
            active=active,
            updated_since=instant(updated_since, "updated_since"),
        )
        return to(MemberPage, found)

    @get(
        "/{member_id:uuid}",
        operation_id="getMember",
        permission=permissions.MembersRead,
        summary="Get a member",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_member(
        self,
        member_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> Response[MemberOut]:
        member = await service.get_member(tx, principal, member_id)
        return Response(to(MemberOut, member), headers={"ETag": etag(member.version)})

    @patch(
        "/{member_id:uuid}",
        operation_id="updateMember",
        permission=permissions.MembersWrite,
        summary="Change a member",
        description="Members may change their own name and email; admins may also change roles and "
        "deactivate (members are never deleted). Deactivating revokes every key the member holds: reactivating "
        "them revives none. Needs If-Match.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
    )
    async def update_member(
        self,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[MemberUpdate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> Response[MemberOut]:
        member = await service.update_member(tx, principal, member_id, data, if_match)
        if data.active is False:
            await keys.revoke_keys_of(tx, principal, member.id)
        return Response(to(MemberOut, member), headers={"ETag": etag(member.version)})


class SupervisionLinkController(Controller):
    path = "/v1/supervision-links"
    tags = ["Supervision"]

    @post(
        "/",
        operation_id="createSupervisionLink",
        permission=permissions.SupervisionAdmin,
        summary="Link a supervisor and a supervisee (admin)",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_link(
        self,
        data: JSONBody[SupervisionLinkCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[SupervisionLinkOut]:
        async def create() -> Made:
            link = await service.create_link(tx, principal, data)
            return Made(to(SupervisionLinkOut, link), f"/v1/supervision-links/{link.id}")

        return await once(data, create)

    @get(
        "/",
        operation_id="listSupervisionLinks",
        permission=permissions.SupervisionRead,
        summary="List supervision links",
        description="Admins see every link; other members see the links they are part of.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_links(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        supervisor_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this supervisor's links.")] = None,
        supervisee_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this supervisee's links.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> SupervisionLinkPage:
        scope = f"supervision-links?supervisor={supervisor_id}&supervisee={supervisee_id}"
        found = await service.list_links(
            tx,
            runtime,
            principal,
            page(principal, scope, cursor, limit),
            supervisor_id=supervisor_id,
            supervisee_id=supervisee_id,
        )
        return to(SupervisionLinkPage, found)

    @delete(
        "/{link_id:uuid}",
        operation_id="deleteSupervisionLink",
        permission=permissions.SupervisionAdmin,
        summary="Remove a supervision link (admin)",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def delete_link(
        self,
        link_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.delete_link(tx, principal, link_id)
