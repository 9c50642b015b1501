"""``create_app(settings)``: the one place that wires controllers, dependencies, middleware and errors."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import msgspec
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Contact, OpenAPIFormat, OpenAPIType, Schema, SecurityScheme, Tag
from litestar.response import Redirect

from supervise import __version__, logs, metrics
from supervise.aggregates.api import AggregateController
from supervise.audit.api import AuditEventController
from supervise.auth import permissions
from supervise.auth.api import ApiKeyController, IdentityProviderController, MeController
from supervise.bodies import YEAR_PATTERN, JsonRequest, LenientSchemas
from supervise.client_ratings.api import ClientFormController, ClientRatingController, FormController
from supervise.conditional import ConditionalGet
from supervise.config import Settings
from supervise.cors import allow_cross_origin
from supervise.dependencies import authentication, dependencies
from supervise.docs_ui import SwaggerUI
from supervise.document import (
    add_links,
    add_transport_problems,
    bound_tuples,
    declare_conditional_get,
    declare_response_headers,
    require_if_match_on_patch,
)
from supervise.events.api import EventController, EventTypeController, WebhookEndpointController
from supervise.events.delivery import Dispatcher
from supervise.exports.api import ExportController
from supervise.fhir.api import FhirController
from supervise.health import HealthController
from supervise.http import before_request, exception_handlers, record_routed_methods, stamp_response
from supervise.members.api import MemberController, OrganisationController, SupervisionLinkController
from supervise.problem_types import ProblemTypeController
from supervise.recordings.api import CaseController, RecordingBatchController, RecordingController
from supervise.reviews.api import ReviewController, list_recording_reviews
from supervise.reviews.requests_api import ReviewRequestController
from supervise.rubrics import service as rubrics
from supervise.rubrics.api import PluginController, RubricController
from supervise.runtime import Runtime

__all__ = ["create_app", "create_app_from_env"]

DESCRIPTION = """\
Clinical supervisors and peers review recorded therapy sessions and score the therapeutic alliance
with rubrics that come from plugins.

* **Auth**: `Authorization: Bearer <api key>`; create the first key with `supervise orgs create`. Each operation
  names the scope (and role) it needs under **Permission**, in `security` and in `x-permission`; a key that
  lacks it gets 403 before anything else about the request is looked at.
* **Errors**: RFC 9457 `application/problem+json`; `errors` lists the fields at fault. 400: the request does
  not match this document (types, ranges, unknown fields); 422: it does, but breaks a rule the document cannot
  express (a person without email, a link to an unknown member, a reused Idempotency-Key). The `type` names the
  cause (`…/draft-exists`, `…/consent-ended`, …; `GET /problems` lists them all, `GET /problems/{slug}` one);
  branch on it, and read the ids some types carry (`draft_id`, `superseded_by_id`, …).
* **Lists**: `?limit=&cursor=`; pass `next_cursor` back unchanged; `has_more` says whether it is set.
* **Writes**: `Idempotency-Key` on POST (remembered 24 hours); `If-Match` with the `ETag` on PATCH.
* **Caching**: answers with an `ETag` are `private, no-cache`; `If-None-Match` with a current tag gets 304.
* **Bodies**: JSON only (`application/json` or a `+json` type; 415 otherwise), decoded strictly against this
  document: a number sent as a string, an unknown field or a key given twice is a 400 naming the field.
  Every instant, in a body or a query, is RFC 3339 written with a year from 1900 to 2199 (400 otherwise);
  an expiry that never comes is `null`.
* **Limits**: request bodies up to 1 MiB (413 beyond); request heads up to 32 KiB and 100 header fields (431).
* **Rate limits**: per API key, per organisation, and per source address for requests without a valid key: 429
  with `Retry-After` past one. Answers carry `RateLimit-Policy` and `RateLimit` for the limit nearer to running
  out.
"""


_ID = "$response.body#/id"
_REVIEW = {"review_id": _ID}
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str], dict[str, str] | None]]] = {
    # (operation, status) -> link name -> (target operation, path parameters, request body fields)
    ("createCase", "201"): {"record": ("createRecording", {}, {"case_id": _ID})},
    ("createRecording", "201"): {
        "assign": ("createReviewRequest", {}, {"recording_id": _ID}),
        "review": ("createReview", {}, {"recording_id": _ID}),
        "reviews": ("listRecordingReviews", {"recording_id": _ID}, None),
    },
    ("createReviewRequest", "201"): {
        "start": ("createReview", {}, {"request_id": _ID}),
        "get": ("getReviewRequest", {"request_id": _ID}, None),
        "cancel": ("cancelReviewRequest", {"request_id": _ID}, None),
    },
    **{
        (operation, status): {
            "get": ("getReview", _REVIEW, None),
            "save": ("updateReview", _REVIEW, None),
            "annotate": ("createAnnotation", _REVIEW, None),
            "annotations": ("listAnnotations", _REVIEW, None),
            "submit": ("submitReview", _REVIEW, None),
            "discard": ("discardReview", _REVIEW, None),
        }
        for operation, status in (("createReview", "201"), ("amendReview", "201"), ("updateReview", "200"))
    },
    ("submitReview", "200"): {
        "get": ("getReview", _REVIEW, None),
        "acknowledge": ("acknowledgeReview", _REVIEW, None),
        "amend": ("amendReview", _REVIEW, None),
    },
    ("createAnnotation", "201"): {
        "delete": ("deleteAnnotation", {"review_id": "$request.path.review_id", "annotation_id": _ID}, None),
    },
}
"""How the review workflow's operations feed each other, as OpenAPI links (clients and stateful tests follow
them from creation to use)."""


@get("/docs", include_in_schema=False)
async def docs() -> Redirect:
    return Redirect("/schema")


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="supervise",
        version=__version__,
        contact=Contact(name="supervise", url="https://supervise.dev"),
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[SwaggerUI()],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key (svk_<key id>_<secret>), or an access token (JWT) of an identity "
                    "provider the organisation trusts (/v1/identity-providers).",
                )
            }
        ),
        security=[{"apiKey": []}],
        tags=[
            Tag(name="Identity"),
            Tag(name="Members"),
            Tag(name="Supervision"),
            Tag(name="API keys"),
            Tag(name="Identity providers"),
            Tag(name="Recordings"),
            Tag(name="Reviews"),
            Tag(name="Client ratings"),
            Tag(name="Aggregates"),
            Tag(name="Exports"),
            Tag(name="Audit"),
            Tag(name="Events"),
            Tag(name="Webhooks"),
            Tag(name="FHIR"),
            Tag(name="Rubrics"),
            Tag(name="Problems"),
            Tag(name="Health"),
        ],
        use_handler_docstrings=False,
    )


def _subclasses(cls: type[msgspec.Struct]) -> Iterator[type[msgspec.Struct]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _close_input_schemas(app: Litestar) -> None:
    """Input structs reject unknown fields; say so in the document (``additionalProperties: false``)."""
    closed = {
        cls.__name__
        for cls in _subclasses(msgspec.Struct)
        if cls.__module__.startswith("supervise.") and cls.__struct_config__.forbid_unknown_fields
    }
    for name, schema in (app.openapi_schema.components.schemas or {}).items():
        if name in closed:
            schema.additional_properties = False


def _numbers_any_of(schema: object) -> None:
    """``int | float`` becomes ``oneOf: [integer, number]``, which no integer satisfies (it matches both):
    such unions are ``anyOf``."""
    if not isinstance(schema, Schema):
        return
    if schema.one_of:
        types = {member.type for member in schema.one_of if isinstance(member, Schema)}
        if {OpenAPIType.INTEGER, OpenAPIType.NUMBER} <= types:
            schema.any_of, schema.one_of = schema.one_of, None
    children = [
        *(schema.properties or {}).values(),
        schema.additional_properties,
        schema.items,
        *(schema.one_of or ()),
        *(schema.any_of or ()),
        *(schema.all_of or ()),
    ]
    for child in children:
        _numbers_any_of(child)


def _instants_patterned(schema: object) -> None:
    """Every ``date-time`` is written with a year from 1900 to 2199 (``supervise.bodies``): the document says so
    as a pattern, so a client (and a generator of test data) knows before sending."""
    if not isinstance(schema, Schema):
        return
    if schema.format == OpenAPIFormat.DATE_TIME and schema.pattern is None:
        schema.pattern = f"^{YEAR_PATTERN}-"
    for child in (
        *(schema.properties or {}).values(),
        schema.additional_properties,
        schema.items,
        *(schema.one_of or ()),
        *(schema.any_of or ()),
        *(schema.all_of or ()),
    ):
        _instants_patterned(child)


def create_app(settings: Settings, *, deliver_webhooks: bool = False) -> Litestar:
    """The application. ``deliver_webhooks`` runs the webhook dispatcher in the process (``supervise serve`` on
    SQLite; on PostgreSQL ``supervise worker`` processes deliver)."""
    runtime = Runtime.build(settings)
    dispatcher = Dispatcher(runtime.db, settings) if deliver_webhooks else None

    async def verify_rubrics(_: Litestar) -> None:
        async with runtime.db.transaction() as tx:
            await rubrics.verify_snapshots(tx, runtime.registry)

    async def coalesce_denials(_: Litestar) -> None:
        runtime.denials.start()
        if dispatcher is not None:
            dispatcher.start()

    async def dispose(_: Litestar) -> None:
        if dispatcher is not None:
            await dispatcher.stop()
        await runtime.close()

    app = Litestar(
        route_handlers=[
            HealthController,
            docs,
            MeController,
            OrganisationController,
            MemberController,
            SupervisionLinkController,
            ApiKeyController,
            IdentityProviderController,
            AuditEventController,
            CaseController,
            RecordingController,
            RecordingBatchController,
            ReviewRequestController,
            ReviewController,
            list_recording_reviews,
            ClientRatingController,
            ClientFormController,
            FormController,
            EventController,
            EventTypeController,
            WebhookEndpointController,
            AggregateController,
            FhirController,
            ExportController,
            RubricController,
            PluginController,
            ProblemTypeController,
            metrics.MetricsController,
        ],
        dependencies=dependencies(runtime),
        middleware=[metrics.middleware(), ConditionalGet, authentication(runtime)],
        exception_handlers=exception_handlers,
        before_send=[stamp_response],
        before_request=before_request,
        state=State({"runtime": runtime, "settings": settings}),
        request_class=JsonRequest,
        plugins=[LenientSchemas()],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=logs.app_logging(),
        on_startup=[verify_rubrics, coalesce_denials],
        on_shutdown=[dispose],
        debug=False,
    )
    record_routed_methods(app)
    allow_cross_origin(app, settings)
    undeclared = permissions.undeclared(app)
    if undeclared:
        raise ImproperlyConfiguredException("every route declares its permission: " + "; ".join(undeclared))
    permissions.document(app, app.openapi_schema)
    _close_input_schemas(app)
    for schema in (app.openapi_schema.components.schemas or {}).values():
        _numbers_any_of(schema)
        _instants_patterned(schema)
        bound_tuples(schema)
    add_links(app.openapi_schema, LINKS)
    add_transport_problems(app.openapi_schema)
    require_if_match_on_patch(app.openapi_schema)
    declare_response_headers(app.openapi_schema)
    declare_conditional_get(app.openapi_schema)
    return app


def create_app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory`` (what ``supervise serve`` runs, once per worker process): settings from
    ``SUPERVISE_*`` environment variables, and the process's garbage collector tuned for serving."""
    settings = Settings.from_env()
    app = create_app(settings, deliver_webhooks=settings.is_sqlite)
    tune_gc()
    return app


GC_YOUNGEST_THRESHOLD = 10_000


def tune_gc() -> None:
    """A request allocates thousands of short-lived objects; with CPython's default threshold (700) the
    collector runs several times per request and each time walks the young objects of every request in flight.
    Freezing what exists once the application is built takes its long-lived objects (modules, routes, mappers)
    out of every later collection, and a higher threshold lets a request's garbage die by reference counting
    before any collection sees it. Measured under load (``bench/README.md``): about 9% of a worker's time spent
    collecting became 0.2%. Reference cycles are still collected, only less often. Server processes only; the
    tests and the command line keep the defaults."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, older, oldest)
