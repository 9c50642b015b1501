"""``/v1/fhir``: FHIR R4 reads, as ``application/fhir+json``, generated from the rubric plugins.

| path | answer |
| --- | --- |
| ``GET /v1/fhir/metadata`` | the CapabilityStatement: what this FHIR endpoint serves |
| ``GET /v1/fhir/Questionnaire`` | searchset Bundle: every installed rubric version (``url``, ``version`` filter) |
| ``GET /v1/fhir/Questionnaire/{id}`` | one version, ``<key>-<version>``; a used version whose plugin is gone too |
| ``GET /v1/fhir/QuestionnaireResponse/{id}`` | a submitted review or client rating, by its id |
| ``GET /v1/fhir/Observation?derived-from=QuestionnaireResponse/{id}`` | searchset Bundle: its stored scores |
| ``GET /v1/fhir/Observation/{id}`` | one score, ``<review id>-<score key>`` |
| ``GET /v1/fhir/$export?start=&end=`` | searchset Bundle of the reviews received in ``[start, end)``, paged |

Errors stay ``application/problem+json``, as everywhere else in the API.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import PathParameter, QueryParameter

from supervise import problems
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.errors import FieldError, Unprocessable
from supervise.fhir import examples, service
from supervise.fhir.capabilities import capability_statement
from supervise.fhir.schemas import (
    Bundle,
    BundleEntry,
    BundleLink,
    BundleSearch,
    CapabilityStatement,
    Observation,
    Questionnaire,
    QuestionnaireResponse,
)
from supervise.http import problem_responses
from supervise.parameters import Cursor, Instant, instant, page
from supervise.runtime import Runtime

__all__ = ["FHIR_JSON", "FhirController"]

FHIR_JSON = "application/fhir+json"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

FhirId = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="A FHIR id.")]
Count = Annotated[
    int, QueryParameter(name="_count", ge=1, le=100, description="Reviews per page (1 to 100; each with its scores).")
]


def _answer(container: type, example: msgspec.Struct, summary: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(
            data_container=container,
            media_type=FHIR_JSON,
            description=summary,
            generate_examples=False,
            examples=[Example(summary=summary, value=msgspec.to_builtins(example))],
        )
    }


def _fhir(resource: Any) -> Response[Any]:
    return Response(resource, media_type=FHIR_JSON)


def _base(request: Request[Any, Any, Any]) -> str:
    return f"{str(request.base_url).rstrip('/')}/v1/fhir"


def _entry(base: str, resource: Questionnaire | QuestionnaireResponse | Observation, mode: str) -> BundleEntry:
    return BundleEntry(
        full_url=f"{base}/{type(resource).__name__}/{resource.id}",
        resource=resource,
        search=BundleSearch(mode="match" if mode == "match" else "include"),
    )


def _searchset(base: str, resources: list[Questionnaire] | list[Observation], self_url: str) -> Bundle:
    return Bundle(
        type="searchset",
        total=len(resources),
        link=[BundleLink(relation="self", url=self_url)],
        entry=[_entry(base, resource, "match") for resource in resources],
    )


class FhirController(Controller):
    path = "/v1/fhir"
    tags = ["FHIR"]

    @get(
        "/metadata",
        operation_id="getFhirCapabilityStatement",
        permission=permissions.Authenticated,
        summary="What this FHIR endpoint serves",
        description="The CapabilityStatement generic FHIR clients read first: FHIR 4.0.1, JSON, the resources, "
        "their interactions and search parameters, and the `$export` operation.",
        media_type=FHIR_JSON,
        responses=_answer(CapabilityStatement, examples.CAPABILITIES, "This endpoint") | problem_responses(400, 401),
    )
    async def get_capabilities(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Response[CapabilityStatement]:
        return _fhir(capability_statement(_base(request)))

    @get(
        "/Questionnaire",
        operation_id="searchFhirQuestionnaires",
        permission=permissions.Authenticated,
        summary="FHIR Questionnaires of the installed rubrics",
        description="A searchset Bundle with one Questionnaire per installed rubric version, generated from its "
        "plugin: items by their keys (`linkId`), ordinal answer options weighted (`itemWeight`), subscales and "
        "totals as read-only calculated items (`score.<key>`).",
        media_type=FHIR_JSON,
        responses=_answer(Bundle, examples.QUESTIONNAIRES, "Installed rubric versions") | problem_responses(400, 401),
    )
    async def search_questionnaires(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
        url: Annotated[str | None, QueryParameter(max_length=300, description="Only this canonical URL.")] = None,
        version: Annotated[str | None, QueryParameter(max_length=32, description="Only this version.")] = None,
    ) -> Response[Bundle]:
        found = service.list_questionnaires(runtime, url, version)
        return _fhir(_searchset(_base(request), found, str(request.url)))

    @get(
        "/Questionnaire/{questionnaire_id:str}",
        operation_id="getFhirQuestionnaire",
        permission=permissions.Authenticated,
        summary="A rubric version as a FHIR Questionnaire",
        description="By id `<key>-<version>` (e.g. `wai-o-s-1.0`; characters FHIR ids lack become `.`). A version "
        "reviews used whose plugin was uninstalled is served from its snapshot, with status `retired`.",
        media_type=FHIR_JSON,
        responses=_answer(Questionnaire, examples.QUESTIONNAIRE, "A rubric version") | problem_responses(400, 401, 404),
    )
    async def get_questionnaire(
        self,
        questionnaire_id: FhirId,
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
    ) -> Response[Questionnaire]:
        return _fhir(await service.get_questionnaire(tx, runtime, questionnaire_id))

    @get(
        "/QuestionnaireResponse/{review_id:uuid}",
        operation_id="getFhirQuestionnaireResponse",
        permission=permissions.ReviewsRead,
        summary="A submitted review or client rating as a FHIR QuestionnaireResponse",
        description="Any revision you may read as `GET /v1/reviews/{review_id}` (the same rules: blind review, "
        "consent; audited as that read). `questionnaire` is `url|version`; status `completed`, or `amended` "
        "for a correcting revision; the subject is the case by its id, never a name. A draft is a 409.",
        media_type=FHIR_JSON,
        responses=_answer(QuestionnaireResponse, examples.RESPONSE, "A submitted review")
        | problem_responses(400, 401, 403, 404, 409),
    )
    async def get_response(
        self,
        review_id: Annotated[uuid.UUID, PathParameter(description="The review's id.")],
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
    ) -> Response[QuestionnaireResponse]:
        return _fhir((await service.get_response(tx, runtime, principal, review_id)).response)

    @get(
        "/Observation",
        operation_id="searchFhirObservations",
        permission=permissions.ReviewsRead,
        summary="The scores of a submitted review as FHIR Observations",
        description="A searchset Bundle: one Observation per score stored at submission (subscales, total, a "
        "plugin's own scores), each `derivedFrom` the response. Read and audited as the review is.",
        media_type=FHIR_JSON,
        responses=_answer(Bundle, examples.SCORES, "A review's scores") | problem_responses(400, 401, 403, 404, 409),
    )
    async def search_observations(
        self,
        request: Request[Any, Any, Any],
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
        derived_from: Annotated[
            str,
            QueryParameter(
                name="derived-from",
                pattern=rf"^QuestionnaireResponse/{_UUID}$",
                description="`QuestionnaireResponse/<review id>`.",
            ),
        ],
    ) -> Response[Bundle]:
        review_id = uuid.UUID(derived_from.partition("/")[2])
        found = await service.observations_of(tx, runtime, principal, review_id)
        return _fhir(_searchset(_base(request), found, str(request.url)))

    @get(
        "/Observation/{observation_id:str}",
        operation_id="getFhirObservation",
        permission=permissions.ReviewsRead,
        summary="One stored score as a FHIR Observation",
        description="By id `<review id>-<score key>` (`_` in a key becomes `.`).",
        media_type=FHIR_JSON,
        responses=_answer(Observation, examples.OBSERVATION, "A score") | problem_responses(400, 401, 403, 404, 409),
    )
    async def get_observation(
        self,
        observation_id: FhirId,
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
    ) -> Response[Observation]:
        return _fhir(await service.get_observation(tx, runtime, principal, observation_id))

    @get(
        "/$export",
        operation_id="exportFhirBundle",
        permission=permissions.ReviewsRead,
        summary="Reviews received in a time range, as a FHIR Bundle",
        description="A searchset Bundle, paged: the current revisions received at or after `start` and before "
        "`end` that you may read (the rules of `GET /v1/reviews`; audited as that list), each QuestionnaireResponse "
        "(`search.mode` `match`) followed by its Observations and, once per page, the Questionnaires they answer "
        "(`include`). The `next` link fetches the next page until there is none. By the time each reached this "
        "service (a review's submission; a client rating's arrival, not the `completed_at` it gives), so a system "
        "pulling consecutive ranges gets every submission, amendment and client rating once, however late. "
        "Synchronous: not the asynchronous Bulk Data `$export`.",
        media_type=FHIR_JSON,
        responses=_answer(Bundle, examples.BUNDLE, "One page of reviews with their scores")
        | problem_responses(400, 401, 403, 422),
    )
    async def export_bundle(
        self,
        request: Request[Any, Any, Any],
        tx: NamedDependency[Tx],
        runtime: NamedDependency[Runtime],
        principal: NamedDependency[Principal],
        start: Annotated[str, Instant(description="Received at or after: a submission, a client rating's arrival.")],
        end: Annotated[str, Instant(description="Received before.")],
        count: Count = 20,
        cursor: Cursor = None,
    ) -> Response[Bundle]:
        since, until = instant(start, "start"), instant(end, "end")
        assert since is not None and until is not None
        if until <= since:
            raise Unprocessable(
                problems.INVALID_VALUE, "The range is empty.", errors=[FieldError("end", "must be after start")]
            )
        scope = f"fhir-export?s={since.isoformat()}&e={until.isoformat()}"
        exported = await service.export(tx, runtime, principal, page(principal, scope, cursor, count), since, until)
        base = _base(request)
        entries: list[BundleEntry] = []
        questionnaires: dict[str, Questionnaire] = {}
        for rated in exported.rated:
            entries.append(_entry(base, rated.response, "match"))
            entries += [_entry(base, observation, "include") for observation in rated.observations]
            questionnaires.setdefault(rated.questionnaire.id, rated.questionnaire)
        entries += [_entry(base, questionnaire, "include") for questionnaire in questionnaires.values()]
        query = {"start": start, "end": end, "_count": str(count)}
        links = [BundleLink(relation="self", url=f"{base}/$export?{urlencode({**query, **_cursor(cursor)})}")]
        if exported.next_cursor is not None:
            links.append(
                BundleLink(
                    relation="next", url=f"{base}/$export?{urlencode({**query, 'cursor': exported.next_cursor})}"
                )
            )
        return _fhir(Bundle(type="searchset", link=links, entry=entries))


def _cursor(cursor: str | None) -> dict[str, str]:
    return {} if cursor is None else {"cursor": cursor}
