"""Finishing the OpenAPI document Litestar generates: links between operations, the problems every operation can
answer whatever its handler (rate limits, request heads, bodies), and preconditions the handlers enforce."""

from __future__ import annotations

import msgspec
from litestar.openapi.spec import (
    Example,
    Link,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.openapi.spec import Parameter as OpenAPIParameter

from supervise.http import PROBLEM_JSON, example_problem

__all__ = ["add_links", "add_transport_problems", "require_if_match_on_patch"]

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
    so that a missing one gets the 428 problem that names it, not a generic 400."""
    for item in (schema.paths or {}).values():
        for parameter in (item.patch.parameters or []) if item.patch else []:
            if isinstance(parameter, OpenAPIParameter) and parameter.name == "If-Match":
                parameter.required = True


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
