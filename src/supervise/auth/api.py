"""``/v1/me``, ``/v1/members/{member_id}/api-keys`` and ``/v1/api-keys/{key_id}``."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.auth import permissions, service
from supervise.auth.keys import display_prefix
from supervise.auth.principal import Principal, Scope
from supervise.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage, Me, OrganisationOut
from supervise.auth.tables import ApiKey
from supervise.http import create_once, problem_responses
from supervise.idempotency.service import StoredResponse
from supervise.members.api import member_out
from supervise.pagination import DEFAULT_LIMIT, PageRequest
from supervise.parameters import LOCATION, Cursor, IdempotencyKey, Limit
from supervise.runtime import Runtime

__all__ = ["ApiKeyController", "MeController"]


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        member_id=key.member_id,
        prefix=display_prefix(key.id),
        name=key.name,
        scopes=[Scope(s) for s in key.scopes] if key.scopes is not None else None,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


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
        return Me(
            member=member_out(caller.member),
            organisation=OrganisationOut(id=caller.organisation.id, name=caller.organisation.name),
            api_key=key_out(caller.api_key),
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
        request: Request[Any, Any, Any],
        member_id: FromPath[uuid.UUID],
        data: JSONBody[ApiKeyCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ApiKeyCreated]:
        async def create() -> StoredResponse:
            issued = await service.create_key(tx, runtime, principal, member_id, data)
            out = key_out(issued.key)
            fields = msgspec.structs.asdict(out)
            body = ApiKeyCreated(**fields, secret=issued.secret)
            return StoredResponse(
                201,
                msgspec.json.encode(body),
                f"/v1/api-keys/{issued.key.id}",
                remembered_body=msgspec.json.encode(ApiKeyCreated(**fields, secret=None)),
            )

        return await create_once(request, data, tx, principal, idempotency_key, create)

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
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ApiKeyPage:
        page_request = PageRequest(
            org_id=principal.org_id, scope=f"api-keys?member={member_id}", cursor=cursor, limit=limit
        )
        page = await service.list_keys(tx, runtime, principal, member_id, page_request)
        return ApiKeyPage(items=[key_out(k) for k in page.items], next_cursor=page.next_cursor)

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
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ApiKeyOut:
        return key_out(await service.get_key(tx, principal, key_id))

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
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.revoke_key(tx, principal, key_id)
