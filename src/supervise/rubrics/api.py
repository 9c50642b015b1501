"""``/v1/rubrics`` and ``/v1/plugins``: what is installed, with full definitions and response schemas."""

from __future__ import annotations

from typing import Annotated, cast

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import With, problem_responses, to
from supervise.rubrics import service
from supervise.rubrics.model import Responses, Result
from supervise.rubrics.registry import Registry
from supervise.rubrics.schemas import PluginOut, RubricOut, RubricRef
from supervise.runtime import Runtime

__all__ = ["PluginController", "RubricController"]

RubricKey = Annotated[str, PathParameter(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", description="e.g. wai-o-s")]
RubricVersion = Annotated[str, PathParameter(max_length=32, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")]


def rubric_out(served: service.Served) -> RubricOut:
    """The definition, with what this server knows about it."""
    known = With(
        served.definition,
        checksum=served.checksum,
        plugin=served.plugin,
        installed=served.plugin is not None,
        versions=served.versions,
        responses_schema=served.responses_schema,
    )
    return to(RubricOut, known)


def encoded(registry: Registry, served: service.Served) -> RubricOut:
    """The answer for an installed version, encoded once: its definition, checksum and versions do not change
    while the process runs. (Typed as what it encodes, for the schema; msgspec writes ``Raw`` as it is.)"""
    at = (served.definition.key, served.definition.version)
    raw = registry.answers.get(at)
    if raw is None:
        raw = registry.answers[at] = msgspec.json.encode(rubric_out(served))
    return cast("RubricOut", msgspec.Raw(raw))


class RubricController(Controller):
    path = "/v1/rubrics"
    tags = ["Rubrics"]

    @get(
        "/",
        operation_id="listRubrics",
        permission=permissions.Authenticated,
        summary="List installed rubrics",
        description="The latest installed version of every rubric, with full definitions and response schemas.",
        responses=problem_responses(400, 401),
    )
    async def list_rubrics(
        self, principal: NamedDependency[Principal], runtime: NamedDependency[Runtime]
    ) -> list[RubricOut]:
        return [encoded(runtime.registry, s) for s in service.list_latest(runtime.registry)]

    @get(
        "/{key:str}",
        operation_id="getRubric",
        permission=permissions.Authenticated,
        summary="Get the latest installed version of a rubric",
        responses=problem_responses(400, 401, 404),
    )
    async def get_rubric(
        self, key: RubricKey, principal: NamedDependency[Principal], runtime: NamedDependency[Runtime]
    ) -> RubricOut:
        return encoded(runtime.registry, service.get_latest(runtime.registry, key))

    @get(
        "/{key:str}/versions/{version:str}",
        operation_id="getRubricVersion",
        permission=permissions.Authenticated,
        summary="Get one version of a rubric",
        description="Installed, or no longer installed but used by reviews (served from its snapshot).",
        responses=problem_responses(400, 401, 404),
    )
    async def get_rubric_version(
        self,
        key: RubricKey,
        version: RubricVersion,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
    ) -> RubricOut:
        served = await service.get_version(tx, runtime.registry, key, version)
        return rubric_out(served) if served.plugin is None else encoded(runtime.registry, served)

    @post(
        "/{key:str}/versions/{version:str}/score",
        operation_id="scoreRubricResponses",
        permission=permissions.Authenticated,
        summary="Score responses without storing them",
        description="Validates responses against an installed rubric version and returns what its scoring "
        "computes: scores and flags. Nothing is stored: front ends use it to preview a draft "
        "(`partial=true` allows missing items), plugin authors to try their rubric.",
        status_code=200,
        responses=problem_responses(400, 401, 404, 422, 500),
    )
    async def score_responses(
        self,
        key: RubricKey,
        version: RubricVersion,
        data: JSONBody[Responses],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        partial: Annotated[bool, QueryParameter(description="Allow missing required items (a draft).")] = False,
    ) -> Result:
        return service.score_responses(runtime.registry, key, version, data, complete=not partial)


class PluginController(Controller):
    path = "/v1/plugins"
    tags = ["Rubrics"]

    @get(
        "/",
        operation_id="listPlugins",
        permission=permissions.Authenticated,
        summary="List installed plugins",
        description="Plugin distributions loaded by this server, their versions, hooks and rubrics.",
        responses=problem_responses(400, 401),
    )
    async def list_plugins(
        self, principal: NamedDependency[Principal], runtime: NamedDependency[Runtime]
    ) -> list[PluginOut]:
        return [
            PluginOut(
                name=p.name,
                distribution=p.distribution,
                version=p.version,
                hooks=list(p.hooks),
                rubrics=[RubricRef(key=k, version=v) for k, v in p.rubrics],
            )
            for p in runtime.registry.plugins
        ]
