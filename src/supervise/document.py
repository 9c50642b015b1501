"""Finishing the OpenAPI document Litestar generates: links between operations, the problems every operation can
answer whatever its handler (rate limits, request heads, bodies), and preconditions the handlers enforce."""

from __future__ import annotations

import msgspec
from litestar.enums import ParamType
from litestar.openapi.spec import (
    Example,
    Link,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.openapi.spec import Parameter as OpenAPIParameter

from supervise.http import PROBLEM_JSON, example_problem

__all__ = [
    "add_links",
    "add_transport_problems",
    "bound_tuples",
    "declare_conditional_get",
    "declare_response_headers",
    "require_if_match_on_patch",
]

_LIMIT_HEADERS = {
    "Retry-After": ("Seconds until the limit's window closes.", "17"),
    "RateLimit-Policy": (
        'The limit reached: `"key"`, `"organisation"` or `"address"`, its quota and window.',
        '"key";q=6000;w=60',
    ),
    "RateLimit": ("Requests remaining in the window, and seconds until it closes.", '"key";r=0;t=17'),
}


def add_links(
    schema: OpenAPI, links: dict[tuple[str, str], dict[str, tuple[str, dict[str, str], dict[str, str] | None]]]
) -> None:
    """Declare OpenAPI links: which operation's response feeds which operation's parameters or body."""
    responses = {
        (operation.operation_id, status): response
        for item in (schema.paths or {}).values()
        for operation in (item.get, item.post, item.patch, item.put, item.delete)
        if operation is not None
        for status, response in (operation.responses or {}).items()
    }
    for (operation_id, status), named in links.items():
        response = responses[(operation_id, status)]
        assert isinstance(response, OpenAPIResponse), (operation_id, status)
        response.links = {
            name: Link(operation_id=target, parameters=dict(parameters) or None, request_body=body)
            for name, (target, parameters, body) in named.items()
        }


def _problem_response(status: int, headers: dict[str, OpenAPIHeader | Reference] | None = None) -> OpenAPIResponse:
    summary, example = example_problem(status)
    return OpenAPIResponse(
        description=summary,
        headers=headers,
        content={
            PROBLEM_JSON: OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/Problem"),
                examples={"problem-example-1": Example(summary=summary, value=msgspec.to_builtins(example))},
            )
        },
    )


def require_if_match_on_patch(schema: OpenAPI) -> None:
    """Every PATCH needs ``If-Match`` (without it, 428): say that it is required. The handlers take it as optional
    so that a missing one gets the 428 problem that names it, not a generic 400. And a header is a string, never
    null (an optional one is absent): its schema says so, with its constraints on the string itself."""
    for item in (schema.paths or {}).values():
        for parameter in (item.patch.parameters or []) if item.patch else []:
            if isinstance(parameter, OpenAPIParameter) and parameter.name == "If-Match":
                parameter.required = True
        for operation in (item.get, item.post, item.patch, item.put, item.delete):
            for parameter in (operation.parameters or []) if operation is not None else []:
                if not isinstance(parameter, OpenAPIParameter) or parameter.param_in != ParamType.HEADER:
                    continue
                if isinstance(parameter.schema, Schema) and parameter.schema.one_of:
                    parameter.schema.one_of = None
                    parameter.schema.type = OpenAPIType.STRING


def add_transport_problems(schema: OpenAPI) -> None:
    """Every operation can answer 429 (a rate limit, ``supervise.throttle``) and 431 (a request head over its
    bounds, ``supervise.server``); every one that takes a body, 413
    (too large) and 415 (not JSON): say so in each."""
    limit_headers: dict[str, OpenAPIHeader | Reference] = {
        name: OpenAPIHeader(description=description, schema=Schema(type=OpenAPIType.STRING), example=example)
        for name, (description, example) in _LIMIT_HEADERS.items()
    }
    shared = {"429": ("TooManyRequests", limit_headers), "431": ("HeaderFieldsTooLarge", None)}
    components = schema.components.responses if schema.components.responses is not None else {}
    for code, (name, headers) in shared.items():  # declared once, referred to by every operation
        components[name] = _problem_response(int(code), headers)
    schema.components.responses = components
    for item in (schema.paths or {}).values():
        for operation in (item.get, item.post, item.patch, item.put, item.delete):
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for code, (name, _) in shared.items():
                responses.setdefault(code, Reference(ref=f"#/components/responses/{name}"))
            if operation.request_body is not None:
                for status in (413, 415):
                    responses.setdefault(str(status), _problem_response(status))
            operation.responses = dict(sorted(responses.items()))


_STRING = Schema(type=OpenAPIType.STRING)
RESPONSE_HEADERS: dict[str, tuple[str, Schema, str]] = {
    "ETag": (
        "The version of the resource, a strong validator: send it back as `If-Match` to update and as "
        "`If-None-Match` to revalidate.",
        Schema(type=OpenAPIType.STRING, pattern='^"[^"]*"$'),
        '"3"',
    ),
    "Location": (
        "Where the created resource lives.",
        Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI_REFERENCE),
        "/v1/reviews/0190f5c4-6a5e-7cc1-8000-000000000001",
    ),
    "X-Request-ID": (
        "This request's id: the one the request carried when valid, else a new one. Logged with every line the "
        "request caused; quote it when reporting a problem.",
        Schema(type=OpenAPIType.STRING, max_length=128),
        "8a2f3c1e9b7d4e0f8a2f3c1e9b7d4e0f",
    ),
    "Idempotent-Replayed": (
        "`true` when this is the remembered answer to an earlier request with the same `Idempotency-Key`.",
        Schema(type=OpenAPIType.STRING, enum=["true"]),
        "true",
    ),
    "Cache-Control": (
        "`no-store` for answers that must not be kept; `private, no-cache` for those a client may keep and "
        "revalidate with `If-None-Match`.",
        _STRING,
        "private, no-cache",
    ),
    "RateLimit-Policy": (
        'The limit nearer to running out: `"key"`, `"organisation"`, `"address"` or `"link"`, its quota `q` and '
        "window `w` in seconds.",
        _STRING,
        '"key";q=6000;w=60',
    ),
    "RateLimit": (
        "Requests `r` remaining in that window, and seconds `t` until it closes.",
        _STRING,
        '"key";r=5999;t=60',
    ),
    "Retry-After": ("Seconds to wait before retrying.", Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$"), "17"),
    "Content-Disposition": (
        "`attachment`, with the file name to save it under.",
        Schema(type=OpenAPIType.STRING, pattern="^attachment; filename=[A-Za-z0-9._-]+$"),
        "attachment; filename=results-2026-11-01-to-2026-11-30.csv",
    ),
}
"""Every header an answer can carry, declared once under ``components/headers`` with a schema, so that generated
clients type them (a header declared without one is ``unknown`` to them)."""


_DOWNLOADS = frozenset({"text/csv"})
"""Media types answered as files to save (``Content-Disposition: attachment``)."""

_VIEWS = frozenset(
    {
        "getCalibration",
        "getCaseTrajectory",
        "listFlags",
        "getReliability",
        "getTeamView",
        "getPerspectives",
        "getSelfVsObserver",
        "getTherapistSeries",
        "getFeedbackUsefulness",
    }
)
"""The aggregate views: their answers carry an ETag of their bytes (``supervise.conditional``)."""


def _versioned(schema: OpenAPI, response: OpenAPIResponse) -> bool:
    """Whether the answer is a versioned resource (its schema has an integer ``version``): it carries its ETag."""
    for media in (response.content or {}).values():
        ref = media.schema
        if isinstance(ref, Reference):
            body = (schema.components.schemas or {}).get(ref.ref.rpartition("/")[2])
            version = (body.properties or {}).get("version") if isinstance(body, Schema) else None
            if isinstance(version, Schema) and version.type == OpenAPIType.INTEGER:
                return True
    return False


def _ref(name: str) -> Reference:
    return Reference(ref=f"#/components/headers/{name}")


def _declare(response: OpenAPIResponse, names: list[str]) -> None:
    headers = dict(response.headers or {})
    for name in names:
        headers[name] = _ref(name)
    response.headers = dict(sorted(headers.items()))


def declare_response_headers(schema: OpenAPI) -> None:
    """Declare, with a schema, every header each answer carries: ``X-Request-ID``, ``Cache-Control`` and the
    RateLimit fields on all of them; ``Retry-After`` on 429 and 503; ``Idempotent-Replayed`` on the successes
    of operations that take an ``Idempotency-Key``; and the ``ETag`` and ``Location`` the handlers declare."""
    schema.components.headers = {
        name: OpenAPIHeader(description=description, schema=header_schema, example=example)
        for name, (description, header_schema, example) in RESPONSE_HEADERS.items()
    }
    everywhere = ["Cache-Control", "RateLimit", "RateLimit-Policy", "X-Request-ID"]
    for response in (schema.components.responses or {}).values():
        if isinstance(response, OpenAPIResponse):
            _declare(response, everywhere + (["Retry-After"] if "Retry-After" in (response.headers or {}) else []))
    for item in (schema.paths or {}).values():
        for operation in (item.get, item.post, item.patch, item.put, item.delete):
            if operation is None:
                continue
            takes_key = any(
                isinstance(p, OpenAPIParameter) and p.name == "Idempotency-Key" for p in operation.parameters or []
            )
            for status, response in (operation.responses or {}).items():
                if not isinstance(response, OpenAPIResponse):
                    continue
                names = [*everywhere, *(name for name in ("ETag", "Location") if name in (response.headers or {}))]
                if status.startswith("2") and (_versioned(schema, response) or operation.operation_id in _VIEWS):
                    names.append("ETag")
                if status in ("429", "503"):
                    names.append("Retry-After")
                if takes_key and status.startswith("2"):
                    names.append("Idempotent-Replayed")
                if status.startswith("2") and any(media in _DOWNLOADS for media in response.content or {}):
                    names.append("Content-Disposition")
                _declare(response, names)


def bound_tuples(schema: object) -> None:
    """A tuple (``ci95``: two numbers) is ``prefixItems`` alone in the generated schema; say also what every item
    is (``items``, which OpenAPI tools require beside ``type: array``) and how many there are."""
    if not isinstance(schema, Schema):
        return
    if schema.prefix_items and schema.items is None:
        kinds = {msgspec.json.encode(msgspec.to_builtins(item.to_schema())) for item in schema.prefix_items}
        schema.items = schema.prefix_items[0] if len(kinds) == 1 else Schema(any_of=list(schema.prefix_items))
        schema.min_items = schema.max_items = len(schema.prefix_items)
    for child in (
        *(schema.properties or {}).values(),
        schema.additional_properties,
        schema.items,
        *(schema.prefix_items or ()),
        *(schema.one_of or ()),
        *(schema.any_of or ()),
        *(schema.all_of or ()),
    ):
        bound_tuples(child)


def declare_conditional_get(schema: OpenAPI) -> None:
    """Every GET whose answer carries an ETag takes ``If-None-Match`` and may answer 304 with no body
    (``supervise.conditional``)."""
    for item in (schema.paths or {}).values():
        operation = item.get
        ok = (operation.responses or {}).get("200") if operation is not None else None
        if operation is None or not isinstance(ok, OpenAPIResponse) or "ETag" not in (ok.headers or {}):
            continue
        operation.parameters = [
            *(operation.parameters or []),
            OpenAPIParameter(
                name="If-None-Match",
                param_in=ParamType.HEADER,
                required=False,
                schema=Schema(type=OpenAPIType.STRING),  # any value: one that matches no tag is simply not current
                description="ETags you hold (or `*`): if one is current, the answer is 304 with no body.",
            ),
        ]
        responses = dict(operation.responses or {})
        responses["304"] = OpenAPIResponse(
            description="Not modified: a tag you sent is current; keep what you have.",
            headers={
                name: _ref(name) for name in ("Cache-Control", "ETag", "RateLimit", "RateLimit-Policy", "X-Request-ID")
            },
        )
        operation.responses = dict(sorted(responses.items()))
