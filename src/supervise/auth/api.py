"""``/v1/me``, ``/v1/members/{member_id}/api-keys`` and ``/v1/api-keys/{key_id}``."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from supervise.auth import permissions, service
from supervise.auth.principal import Principal
from supervise.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage, Me, OrganisationOut
from supervise.db import Tx
from supervise.http import Made, Once, With, problem_responses, to
from supervise.members.schemas import MemberOut
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import LOCATION, Cursor, Limit, page
from supervise.runtime import Runtime

__all__ = ["ApiKeyController", "MeController"]


class MeController(Controller):
    path = "/v1/me"
    tags = ["Identity"]

    @get(
        "/",
        operation_id="getMe",
        permission=permissions.Authenticated,
        summary="Who am I",
        description="The calling member, their organisation and the API key in use.",
        responses=problem_responses(401),
    )
    async def get_me(self, caller: NamedDependency[service.Caller]) -> Me:
        rows = caller.rows
        return Me(
            member=to(MemberOut, rows.member),
            organisation=to(OrganisationOut, rows.organisation),
            api_key=to(ApiKeyOut, rows.api_key),
        )


class ApiKeyController(Controller):
    path = "/v1"
    tags = ["API keys"]

    @post(
        "/members/{member_id:uuid}/api-keys",
        operation_id="createApiKey",
        permission=permissions.ApiKeysWrite,
        summary="Create an API key",
        description="For yourself, or (admin) for any member or integration. The response holds the secret "
        "once; it is stored only as a keyed hash.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def create_key(
        self,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[ApiKeyCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[ApiKeyCreated]:
        async def create() -> Made:
            issued = await service.create_key(tx, runtime, principal, member_id, data)
            return Made(
                to(ApiKeyCreated, With(issued.key, secret=issued.secret)),
                f"/v1/api-keys/{issued.key.id}",
                remembered=to(ApiKeyCreated, With(issued.key, secret=None)),  # the secret is never stored
            )

        return await once(data, create)

    @get(
        "/members/{member_id:uuid}/api-keys",
        operation_id="listApiKeys",
        permission=permissions.ApiKeysRead,
        summary="List a member's API keys",
        description="Your own keys, or (admin) any member's; revoked and expired keys included. Never the secret.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def list_keys(
        self,
        member_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ApiKeyPage:
        found = await service.list_keys(
            tx, runtime, principal, member_id, page(principal, f"api-keys?member={member_id}", cursor, limit)
        )
        return to(ApiKeyPage, found)

    @get(
        "/api-keys/{key_id:uuid}",
        operation_id="getApiKey",
        permission=permissions.ApiKeysRead,
        summary="Get an API key",
        description="Your own key, or (admin) anyone's. Never the secret.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_key(
        self,
        key_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> ApiKeyOut:
        return to(ApiKeyOut, await service.get_key(tx, principal, key_id))

    @delete(
        "/api-keys/{key_id:uuid}",
        operation_id="revokeApiKey",
        permission=permissions.ApiKeysWrite,
        summary="Revoke an API key",
        description="Your own key, or (admin) anyone's. Revoking twice is harmless.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def revoke_key(
        self,
        key_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.revoke_key(tx, principal, key_id)
