"""``/v1/me``, ``/v1/members/{member_id}/api-keys``, ``/v1/api-keys/{key_id}`` and
``/v1/identity-providers[/{provider_id}]``."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from supervise.auth import oidc, permissions, service
from supervise.auth.principal import Principal
from supervise.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ApiKeyPage,
    IdentityProviderCreate,
    IdentityProviderOut,
    IdentityProviderPage,
    IdentityProviderUpdate,
    Me,
    MeIdentity,
    MeOrganisation,
)
from supervise.db import Tx
from supervise.http import Made, Once, With, problem_responses, to
from supervise.members.schemas import MemberOut
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import ETAG, LOCATION, Cursor, IfMatch, Limit, page
from supervise.preconditions import etag
from supervise.runtime import Runtime

__all__ = ["ApiKeyController", "IdentityProviderController", "MeController"]


class MeController(Controller):
    path = "/v1/me"
    tags = ["Identity"]

    @get(
        "/",
        operation_id="getMe",
        permission=permissions.Authenticated,
        summary="Who am I",
        description="The calling member, their organisation, and the API key in use or the identity provider and "
        "subject of the access token in use.",
        responses=problem_responses(401),
    )
    async def get_me(self, caller: NamedDependency[service.Caller]) -> Me:
        provider, principal = caller.provider, caller.principal
        identity = None
        if provider is not None and principal.token_subject is not None:
            identity = MeIdentity(provider_id=provider.id, issuer=provider.issuer, subject=principal.token_subject)
        return Me(
            member=to(MemberOut, caller.member),
            organisation=to(MeOrganisation, caller.organisation),
            api_key=to(ApiKeyOut, caller.api_key) if caller.api_key is not None else None,
            identity=identity,
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


class IdentityProviderController(Controller):
    path = "/v1/identity-providers"
    tags = ["Identity providers"]

    @post(
        "/",
        operation_id="createIdentityProvider",
        permission=permissions.IdentityProvidersWrite,
        summary="Trust an identity provider (admin)",
        description="Members may then sign in with its access tokens (JWT) for `audience`, sent as "
        "`Authorization: Bearer`. An issuer and audience can be registered by one organisation only. Audited.",
        status_code=201,
        response_headers=[LOCATION, ETAG],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_provider(
        self,
        data: JSONBody[IdentityProviderCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[IdentityProviderOut]:
        async def create() -> Made:
            provider = await oidc.create_provider(tx, runtime, principal, data)
            return Made(to(IdentityProviderOut, provider), f"/v1/identity-providers/{provider.id}")

        return await once(data, create, etag_version=1)

    @get(
        "/",
        operation_id="listIdentityProviders",
        permission=permissions.IdentityProvidersRead,
        summary="List trusted identity providers (admin)",
        description="Oldest first. Reading it is audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_providers(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> IdentityProviderPage:
        found = await oidc.list_providers(tx, runtime, principal, page(principal, "identity-providers", cursor, limit))
        return to(IdentityProviderPage, found)

    @get(
        "/{provider_id:uuid}",
        operation_id="getIdentityProvider",
        permission=permissions.IdentityProvidersRead,
        summary="Get a trusted identity provider (admin)",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_provider(
        self,
        provider_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> Response[IdentityProviderOut]:
        provider = await oidc.get_provider(tx, principal, provider_id)
        return Response(to(IdentityProviderOut, provider), headers={"ETag": etag(provider.version)})

    @patch(
        "/{provider_id:uuid}",
        operation_id="updateIdentityProvider",
        permission=permissions.IdentityProvidersWrite,
        summary="Change a trusted identity provider (admin)",
        description="Needs If-Match. Changing the issuer forgets the subjects bound to members. Audited.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
    )
    async def update_provider(
        self,
        provider_id: FromPath[uuid.UUID],
        data: JSONBody[IdentityProviderUpdate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        if_match: IfMatch = None,
    ) -> Response[IdentityProviderOut]:
        provider = await oidc.update_provider(tx, runtime, principal, provider_id, data, if_match)
        return Response(to(IdentityProviderOut, provider), headers={"ETag": etag(provider.version)})

    @delete(
        "/{provider_id:uuid}",
        operation_id="deleteIdentityProvider",
        permission=permissions.IdentityProvidersWrite,
        summary="Stop trusting an identity provider (admin)",
        description="Its tokens stop working at once; the subjects bound to members are forgotten. Audited.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def delete_provider(
        self,
        provider_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> None:
        await oidc.delete_provider(tx, principal, provider_id)
