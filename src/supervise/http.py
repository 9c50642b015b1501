"""HTTP conventions every endpoint shares: problems, request ids, cursors, ETags, OpenAPI responses."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import msgspec
import uuid_utils
from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import QueryParameter
from litestar.routes import HTTPRoute
from litestar.types import ExceptionHandlersMap, Message, Scope
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise import problems
from supervise.auth.principal import Principal
from supervise.config import Settings
from supervise.errors import DomainError, FieldError, ServiceUnavailable
from supervise.idempotency.service import StoredResponse, fingerprint, run_once
from supervise.parameters import IdempotencyKey
from supervise.preconditions import etag
from supervise.problem_details import PROBLEM_JSON, FieldErrorOut, Problem, example_problem, problem_responses
from supervise.problems import ProblemType

__all__ = [
    "CORS_METHODS",
    "PROBLEM_JSON",
    "FieldErrorOut",
    "Made",
    "Once",
    "Problem",
    "With",
    "before_request",
    "cors",
    "example_problem",
    "exception_handlers",
    "problem",
    "problem_of",
    "problem_responses",
    "provide_once",
    "record_routed_methods",
    "reject_unknown_query",
    "request_id",
    "scope_request_id",
    "stamp_response",
    "to",
]

log = logging.getLogger("supervise")

T = TypeVar("T")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id(request: Request[Any, Any, Any]) -> str:
    return scope_request_id(request.scope)


def _problem(
    kind: ProblemType,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    ids: Mapping[str, uuid.UUID] | None = None,
) -> Response[bytes]:
    body = _problem_body(kind, detail, errors, ids)
    return Response(
        msgspec.json.encode(body),
        status_code=kind.status,
        media_type=PROBLEM_JSON,
        headers=headers or {},
    )


def _problem_body(
    kind: ProblemType, detail: str, errors: Sequence[FieldError], ids: Mapping[str, uuid.UUID] | None
) -> Problem:
    return Problem(
        type=kind.uri,
        title=kind.title,
        status=kind.status,
        detail=detail,
        errors=[FieldErrorOut(field=e.field, message=e.message) for e in errors],
        **(ids or {}),
    )


def problem_of(exc: DomainError) -> Problem:
    """The problem details of a domain error, as its own answer's body would carry them (for answers that
    report several outcomes, such as a batch's items)."""
    return _problem_body(exc.kind, exc.detail, exc.errors, exc.ids)


def problem(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    """The problem+json response for a domain error."""
    return _problem(exc.kind, exc.detail, errors=exc.errors, headers=exc.headers, ids=exc.ids)


def _field_of(error: dict[str, Any]) -> str:
    key = str(error.get("key") or "")
    message = str(error.get("message", ""))
    # msgspec reports nested body paths as "... - at `$.a.b`"
    if match := re.search(r"at `\$\.?([^`]*)`", message):
        path = match.group(1)
        return f"{key}.{path}" if key and path and not path.startswith(key) else (path or key or "body")
    if match := re.search(r"field `([^`]+)`", message):
        return match.group(1)
    return key or "body"


def _wire_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Python parameter names to the names clients send (``idempotency_key`` -> ``Idempotency-Key``), of the
    handler's parameters and of those its dependencies declare."""
    handler = request.scope.get("route_handler")
    signatures = [getattr(handler, "parsed_fn_signature", None)]
    resolve = getattr(handler, "resolve_dependencies", None)
    if resolve is not None:
        signatures += [getattr(provide, "parsed_fn_signature", None) for provide in resolve().values()]
    names: dict[str, str] = {}
    for signature in signatures:
        for name, parameter in getattr(signature, "parameters", {}).items():
            alias = getattr(parameter.kwarg_definition, "name", None)
            if isinstance(alias, str) and alias:
                names[name] = alias
    return names


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    wire = _wire_names(request)
    errors = [
        FieldError(wire.get(_field_of(e), _field_of(e)), str(e.get("message", "invalid value")).split(" - at `")[0])
        for e in extra
        if isinstance(e, dict)
    ]
    if not errors:
        errors = [FieldError("body", exc.detail)]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return _problem(problems.INVALID_REQUEST, f"The request is not valid: {summary}", errors=errors)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    kind = problems.BY_STATUS.get(status) or (
        problems.INTERNAL_SERVER_ERROR if status >= 500 else problems.INVALID_REQUEST
    )
    detail = exc.detail if exc.detail and exc.detail != _phrase(status) else ""
    if status == 404:
        detail = "No route matches this path."
    elif status == 405:
        detail = f"{request.method} is not allowed here."
    elif status == 413:
        limit = request.app.state.settings.max_body_bytes
        detail = f"The request body exceeds the limit of {limit} bytes."
    elif status >= 500:
        detail = "The server failed to handle this request."
    elif status == 400 and detail:
        # Litestar reports undecodable JSON and similar client faults as a plain 400.
        return _problem(kind, detail, errors=[FieldError("body", detail)])
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return _problem(kind, detail or _phrase(status), headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(problems.INTERNAL_SERVER_ERROR, "The server failed to handle this request.")


def _data_error(request: Request[Any, Any, Any], exc: DataError) -> Response[bytes]:
    # Input that passed validation but that the database refuses (it should not happen: every string field
    # excludes control characters). Logged, because it means a constraint is missing from a schema.
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
    return _problem(
        problems.INVALID_REQUEST, "A value in this request cannot be stored.", errors=[FieldError("body", "invalid")]
    )


_TIES = {"40001": "a serialisation failure", "40P01": "a deadlock"}
"""SQLSTATEs with which PostgreSQL rolls back one of two concurrent transactions to let the other go on."""


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[bytes]:
    state = getattr(exc.orig, "sqlstate", None)
    if state not in _TIES:
        return _unexpected_error(request, exc)
    # Writers take their locks in one order (the organisation's first), so this should not happen; if it does,
    # the transaction was rolled back whole and a retry is safe: a 503 that says so, never a 500.
    log.warning("%s on %s %s: rolled back, answered 503", _TIES[state], request.method, request.url.path)
    return problem(
        request,
        ServiceUnavailable(
            "The database rolled this write back to let a concurrent one finish; nothing was changed. Retry."
        ),
    )


exception_handlers: ExceptionHandlersMap = {
    DataError: _data_error,
    DBAPIError: _database_error,
    DomainError: problem,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}


def _declared_query(handler: Any) -> frozenset[str]:
    known = _DECLARED.get(id(handler))
    if known is not None and known[0] is handler:
        return known[1]
    signature = getattr(handler, "parsed_fn_signature", None)
    declared = frozenset(
        parameter.kwarg_definition.name or name
        for name, parameter in getattr(signature, "parameters", {}).items()
        if isinstance(parameter.kwarg_definition, QueryParameter)
    )
    _DECLARED[id(handler)] = (handler, declared)
    return declared


_DECLARED: dict[int, tuple[Any, frozenset[str]]] = {}
"""Per route handler (held, so its id cannot be reused): the query parameters it declares. A handler's
signature does not change once the application is built; Litestar's handlers take no weak references."""


_ALLOW = "supervise.allow"


CORS_METHODS = ("DELETE", "GET", "PATCH", "POST")
"""Every method a route answers but OPTIONS and HEAD (a test keeps them in step with the routes)."""
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key")
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
)


def cors(settings: Settings) -> CORSConfig | None:
    """Cross-origin calls from the pages of ``SUPERVISE_CORS_ORIGINS``, with Litestar's CORS middleware; none
    when it is empty. Credentials are bearer tokens in ``Authorization``, never cookies, so the answer allows no
    credentials (``Access-Control-Allow-Credentials`` is not sent) and a page must hold its token itself."""
    origins = settings.origins
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=list(CORS_METHODS),  # type: ignore[arg-type]
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=600,
    )


def record_routed_methods(app: Litestar) -> None:
    """Note every path's routed methods, for the ``Allow`` of its OPTIONS answer (see :func:`before_request`)."""
    app.state[_ALLOW] = {
        route.path: ", ".join(sorted(route.methods)) for route in app.routes if isinstance(route, HTTPRoute)
    }


async def before_request(request: Request[Any, Any, Any]) -> Response[None] | None:
    """``before_request`` hook: answers OPTIONS with every routed method, and refuses unknown query parameters.

    Litestar 2 builds a path's OPTIONS answer from the methods routed when the path's first handler was
    registered, and a controller registers its handlers one at a time, so ``OPTIONS /v1/members`` answered
    ``Allow: OPTIONS, POST`` (litestar-org/litestar#4169, fixed in Litestar 3). Found by schemathesis's
    ``allow_header_conformance`` check against a live server."""
    if request.method == "OPTIONS":
        allow = request.app.state.get(_ALLOW, {}).get(next(iter(request.route_handler.paths), None))
        if allow is not None:
            return Response(None, status_code=204, headers={"Allow": allow}, media_type=MediaType.TEXT)
    await reject_unknown_query(request)
    return None


async def reject_unknown_query(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: a misspelt (``?rol=admin``) or repeated filter is an error, not a silently
    different answer."""
    if not request.query_params:
        return
    declared = _declared_query(request.route_handler)
    unknown = sorted(name for name in request.query_params if name not in declared)
    if unknown:
        raise DomainError(
            problems.INVALID_REQUEST,
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[FieldError(name, "unknown query parameter") for name in unknown],
        )
    # Every parameter we declare takes one value: ``?active=true&active=false`` is ambiguous, not a choice.
    repeated = sorted(name for name in set(request.query_params) if len(request.query_params.getall(name)) > 1)
    if repeated:
        raise DomainError(
            problems.INVALID_REQUEST,
            f"Query parameter(s) given more than once: {', '.join(repeated)}.",
            errors=[FieldError(name, "given more than once") for name in repeated],
        )


def scope_request_id(scope: Scope) -> str:
    """The request's id: a valid ``X-Request-ID`` it came with, else a new one (kept in the scope)."""
    state = scope.setdefault("state", {})
    rid: str | None = state.get("request_id")
    if rid is None:
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        rid = given if _REQUEST_ID.match(given) else uuid_utils.uuid4().hex  # no system call, unlike uuid.uuid4
        state["request_id"] = rid
    return rid


async def stamp_response(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every response, router errors included, carries its request id and ``no-store``."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        headers["X-Request-ID"] = scope_request_id(scope)
        if "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"


# ---------------------------------------------------------------------------------------------- writes


def to(kind: type[T], row: object) -> T:
    """A row (or a page of them, or any object with the attributes) as the schema ``kind`` sends."""
    return msgspec.convert(row, kind, from_attributes=True)


class With:
    """A row read together with attributes it does not have, for :func:`to`:
    ``to(ReviewRequestOut, With(request, review_id=review.id))``."""

    __slots__ = ("_extra", "_row")

    def __init__(self, row: object, **extra: object) -> None:
        self._row, self._extra = row, extra

    def __getattr__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        return getattr(self._row, name)


@dataclass(frozen=True, slots=True)
class Made:
    """What a POST made: its answer, and where the made resource lives."""

    body: msgspec.Struct
    location: str | None = None
    status: int = 201
    remembered: msgspec.Struct | None = None
    """What a replay answers instead of ``body``, when the two must differ (a secret is shown once)."""


class _Versioned(msgspec.Struct):
    """A resource's row version, if the answer is a versioned resource (a rubric's ``version`` is a string)."""

    version: int | str | None = None


class Once:
    """A POST run once per ``Idempotency-Key``: the request's ``once`` dependency, which also declares that
    header. The same key and body replay the first answer (``Idempotent-Replayed: true``)."""

    __slots__ = ("_key", "_principal", "_request", "_tx")

    def __init__(self, request: Request[Any, Any, Any], tx: AsyncSession, principal: Principal, key: str | None):
        self._request, self._tx, self._principal, self._key = request, tx, principal, key

    async def __call__(
        self,
        data: msgspec.Struct | None,
        make: Callable[[], Awaitable[Made]],
        *,
        etag_version: int | None = None,
    ) -> Response[Any]:
        """Answer with what ``make`` made, or with the answer to the first request that carried this key; a
        versioned resource with its ETag (of the version answered, on a replay too). ``etag_version``: the
        version a resource whose answer omits ``version`` starts at (sent as its ETag)."""
        request = self._request
        request_hash = fingerprint(request.method, request.url.path, msgspec.json.encode(data))

        async def create() -> StoredResponse:
            made = await make()
            remembered = msgspec.json.encode(made.remembered) if made.remembered is not None else None
            return StoredResponse(
                made.status, msgspec.json.encode(made.body), made.location, remembered_body=remembered
            )

        window = request.app.state.settings.idempotency_window
        stored = await run_once(self._tx, self._principal, self._key, request_hash, window, create)
        headers = {"Location": stored.location} if stored.location else {}
        if stored.replayed:
            headers["Idempotent-Replayed"] = "true"
        version = msgspec.json.decode(stored.body, type=_Versioned).version
        if version is None:
            version = etag_version
        if isinstance(version, int):
            headers["ETag"] = etag(version)
        return Response(stored.body, status_code=stored.status_code, media_type="application/json", headers=headers)


def provide_once(
    request: Request[Any, Any, Any],
    tx: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    idempotency_key: IdempotencyKey = None,
) -> Once:
    return Once(request, tx, principal, idempotency_key)


# ------------------------------------------------------------------------------------------- OpenAPI
