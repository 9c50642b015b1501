"""The problem details body (RFC 9457) and its OpenAPI entries: what every error answer looks like."""

from __future__ import annotations

import uuid

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from supervise import problems

__all__ = ["PROBLEM_JSON", "FieldErrorOut", "Problem", "example_problem", "problem_responses"]

PROBLEM_JSON = "application/problem+json"


class FieldErrorOut(msgspec.Struct):
    field: str
    """Where the fault is: a body field (``email``), a query parameter, a header or a path segment."""
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details.

    ``type`` names the cause (see ``GET /problems``); branch on it, not on ``detail``. The id members are
    extensions that some types carry (each type's entry says which). Deliberately without ``instance`` or a
    request id (that is in the ``X-Request-ID`` header): a 404 for another organisation's id must be
    byte-identical to one for an id that never existed.
    """

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] = msgspec.field(default_factory=list)
    draft_id: uuid.UUID | None = None
    """``draft-exists``: the caller's draft to go on with."""
    review_id: uuid.UUID | None = None
    """The review (or client rating) the problem is about: ``review-exists``, ``reference-exists``..."""
    request_id: uuid.UUID | None = None
    """``request-exists``: the open review request."""
    case_id: uuid.UUID | None = None
    """``case-exists``: the therapist's case with this ``external_ref``."""
    recording_id: uuid.UUID | None = None
    """``external-id-used``: the recording pushed with this ``external_id``."""
    link_id: uuid.UUID | None = None
    """``link-exists``: the supervision link."""
    superseded_by_id: uuid.UUID | None = None
    """``superseded``: the revision that replaced this one."""


_PROBLEM_EXAMPLES = {
    400: ("Invalid input", problems.INVALID_REQUEST, "The request is not valid: email: Expected `str`, got `int`"),
    401: ("Missing or unknown API key", problems.UNAUTHORIZED, "Send an API key as 'Authorization: Bearer <key>'."),
    403: ("Not allowed", problems.ROLE_REQUIRED, "Only a member with the admin role may do this."),
    404: ("Unknown id", problems.NOT_FOUND, "No member with this id."),
    409: (
        "Conflict",
        problems.LINK_EXISTS,
        "This supervision link already exists: 0190f5c4-6a5e-7cc1-8000-000000000001.",
    ),
    410: (
        "Events pruned",
        problems.EVENTS_EXPIRED,
        "Events up to 118 were pruned (retention); this cursor (42) would skip them.",
    ),
    412: (
        "Stale ETag",
        problems.PRECONDITION_FAILED,
        'The resource changed since you read it; its current ETag is "3".',
    ),
    413: ("Body too large", problems.REQUEST_BODY_TOO_LARGE, "The request body exceeds the limit of 1048576 bytes."),
    415: (
        "Body not JSON",
        problems.UNSUPPORTED_MEDIA_TYPE,
        "The request body must be application/json, not text/plain.",
    ),
    422: ("Valid JSON, but not a valid request", problems.INVALID_VALUE, "A person needs an email address."),
    428: (
        "If-Match missing",
        problems.PRECONDITION_REQUIRED,
        "This update needs an If-Match header carrying the ETag of the version you read.",
    ),
    429: (
        "Rate limit reached",
        problems.TOO_MANY_REQUESTS,
        "Too many requests for this API key: 6000 per 60 s. Retry after 17 s.",
    ),
    431: (
        "Request head too large",
        problems.REQUEST_HEADER_FIELDS_TOO_LARGE,
        "A request may carry at most 100 header fields.",
    ),
    500: (
        "A rubric plugin failed",
        problems.PLUGIN_FAILURE,
        "Plugin 'supervise-alliance' failed while scoring alliance 1.0.0: ZeroDivisionError.",
    ),
    503: ("Try again shortly", problems.SERVICE_UNAVAILABLE, "The read could not be audited; retry shortly."),
}


def example_problem(status: int) -> tuple[str, Problem]:
    """What a problem with ``status`` is about, and an example of one, for the OpenAPI document; the summary
    names the types that can answer with this status."""
    summary, kind, detail = _PROBLEM_EXAMPLES[status]
    example = Problem(type=kind.uri, title=kind.title, status=status, detail=detail)
    if kind is problems.LINK_EXISTS:
        example.link_id = uuid.UUID("0190f5c4-6a5e-7cc1-8000-000000000001")
    slugs = ", ".join(f"`{t.slug}`" for t in problems.CATALOGUE.values() if t.status == status and not t.preflight)
    return f"{summary} (type: {slugs}; see `GET /problems`)", example


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses an operation can answer (401 is always possible)."""
    specs: dict[int, ResponseSpec] = {}
    for status in sorted({*statuses}):
        summary, example = example_problem(status)
        specs[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=summary,
            generate_examples=False,
            examples=[Example(summary=summary, value=msgspec.to_builtins(example))],
        )
    return specs
