"""HTTP conventions every endpoint shares: problems, request ids, cursors, ETags, OpenAPI responses."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.types import ExceptionHandlersMap, Message, Scope
from sqlalchemy.exc import DataError

from supervise.errors import DomainError, FieldError
from supervise.idempotency.service import StoredResponse

__all__ = [
    "PROBLEM_JSON",
    "CursorCodec",
    "FieldErrorOut",
    "Problem",
    "check_if_match",
    "created",
    "etag",
    "exception_handlers",
    "problem_responses",
    "reject_unknown_query",
    "request_id",
    "scope_request_id",
    "stamp_response",
]

log = logging.getLogger("supervise")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://supervise.dev/problems/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class FieldErrorOut(msgspec.Struct):
    field: str
    """Where the fault is: a body field (``email``), a query parameter, a header or a path segment."""
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details.

    Deliberately without ``instance`` or a request id (that is in the ``X-Request-ID`` header): a 404 for
    another organisation's id must be byte-identical to one for an id that never existed.
    """

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] = msgspec.field(default_factory=list)


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {status: title.lower().replace(" ", "-") for status, title in _TITLES.items()}


def request_id(request: Request[Any, Any, Any]) -> str:
    return scope_request_id(request.scope)


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    title: str | None = None,
    slug: str | None = None,
) -> Response[bytes]:
    body = Problem(
        type=PROBLEM_BASE + (slug or _SLUGS.get(status, "error")),
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=[FieldErrorOut(field=e.field, message=e.message) for e in errors],
    )
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers or {},
    )


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    return _problem(
        request, exc.status, exc.detail, errors=exc.errors, headers=exc.headers, title=exc.title, slug=exc.type_slug
    )


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
    """Python parameter names to the names clients send (``idempotency_key`` -> ``Idempotency-Key``)."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    names: dict[str, str] = {}
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
    return _problem(request, 400, f"The request is not valid: {summary}", errors=errors)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    detail = exc.detail if exc.detail and exc.detail != _TITLES.get(status) else ""
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
        return _problem(request, 400, detail, errors=[FieldError("body", detail)])
    headers = {k: v for k, v in (exc.headers or {}).items()}
    return _problem(request, status, detail or _TITLES.get(status, "Error"), headers=headers)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(request, 500, "The server failed to handle this request.")


def _data_error(request: Request[Any, Any, Any], exc: DataError) -> Response[bytes]:
    # Input that passed validation but that the database refuses (it should not happen: every string field
    # excludes control characters). Logged, because it means a constraint is missing from a schema.
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
    return _problem(request, 400, "A value in this request cannot be stored.", errors=[FieldError("body", "invalid")])


exception_handlers: ExceptionHandlersMap = {
    DataError: _data_error,
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _declared_query(handler: Any) -> frozenset[str]:
    names = _QUERY_NAMES.get(id(handler))
    if names is None:
        signature = getattr(handler, "parsed_fn_signature", None)
        found = set()
        for name, parameter in getattr(signature, "parameters", {}).items():
            definition = parameter.kwarg_definition
            if isinstance(definition, QueryParameter):
                found.add(definition.name or name)
        names = _QUERY_NAMES[id(handler)] = frozenset(found)
    return names


async def reject_unknown_query(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: a misspelt filter (``?rol=admin``) is an error, not a silently wider answer."""
    if not request.query_params:
        return
    declared = _declared_query(request.route_handler)
    unknown = sorted(name for name in request.query_params if name not in declared)
    if unknown:
        raise DomainError(
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[FieldError(name, "unknown query parameter") for name in unknown],
        )


def scope_request_id(scope: Scope) -> str:
    """The request's id: a valid ``X-Request-ID`` it came with, else a new one (kept in the scope)."""
    state = scope.setdefault("state", {})
    rid: str | None = state.get("request_id")
    if rid is None:
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
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


def created(stored: StoredResponse, *, etag_version: int | None = None) -> Response[Any]:
    """The response of a POST, fresh or replayed for a repeated ``Idempotency-Key``."""
    headers = {"Location": stored.location} if stored.location else {}
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    elif etag_version is not None:
        headers["ETag"] = etag(etag_version)
    return Response(stored.body, status_code=stored.status_code, media_type="application/json", headers=headers)


# ---------------------------------------------------------------------------------------------- ETags


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Require ``If-Match`` and compare it strongly with the row version (428 when absent, 412 when stale)."""
    from supervise.errors import PreconditionFailed, PreconditionRequired

    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "This update needs an If-Match header carrying the ETag of the version you read.",
            errors=[FieldError("If-Match", "required")],
        )
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates or etag(version) in candidates:
        return
    raise PreconditionFailed(
        f"The resource changed since you read it; its current ETag is {etag(version)}.",
        errors=[FieldError("If-Match", "stale")],
    )


# -------------------------------------------------------------------------------------------- cursors


class CursorCodec:
    """Opaque keyset cursors, signed and bound to the organisation and the list's filters."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"supervise/cursor\x00" + secret).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, org_id: uuid.UUID, scope: str, created_at: dt.datetime, row_id: uuid.UUID) -> str:
        payload = msgspec.json.encode([str(org_id), scope, created_at.isoformat(), str(row_id)])
        token = payload + self._mac(payload)
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, token: str, org_id: uuid.UUID, scope: str) -> tuple[dt.datetime, uuid.UUID]:
        invalid = DomainError(
            "The cursor is not valid for this list: pass back next_cursor unchanged, with the same filters.",
            errors=[FieldError("cursor", "invalid or tampered cursor")],
        )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        payload, mac = raw[:-16], raw[-16:]
        if len(raw) <= 16 or not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid
        try:
            org, bound_scope, created_at, row_id = msgspec.json.decode(payload, type=tuple[str, str, str, str])
            if org != str(org_id) or bound_scope != scope:
                raise invalid
            return dt.datetime.fromisoformat(created_at), uuid.UUID(row_id)
        except (msgspec.DecodeError, ValueError):
            raise invalid from None


# ------------------------------------------------------------------------------------------- OpenAPI


_PROBLEM_EXAMPLES = {
    400: ("Invalid input", "The request is not valid: email: Expected `str`, got `int`"),
    401: ("Missing or unknown API key", "Send an API key as 'Authorization: Bearer <key>'."),
    403: ("Not allowed", "Only an admin may do this."),
    404: ("Unknown id", "No member with this id."),
    409: ("Conflict", "This supervision link already exists."),
    412: ("Stale ETag", 'The resource changed since you read it; its current ETag is "3".'),
    413: ("Body too large", "The request body exceeds the limit of 1048576 bytes."),
    422: ("Valid JSON, but not a valid request", "A person needs an email address."),
    428: ("If-Match missing", "This update needs an If-Match header carrying the ETag of the version you read."),
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses an operation can answer (401 is always possible)."""
    specs: dict[int, ResponseSpec] = {}
    for status in sorted({*statuses}):
        summary, detail = _PROBLEM_EXAMPLES.get(status, (_TITLES.get(status, "Error"), "…"))
        example = Problem(
            type=PROBLEM_BASE + _SLUGS.get(status, "error"),
            title=_TITLES.get(status, "Error"),
            status=status,
            detail=detail,
        )
        specs[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=summary,
            generate_examples=False,
            examples=[Example(summary=summary, value=msgspec.to_builtins(example))],
        )
    return specs
