"""Cross-origin calls from browsers: the CORS grant for the pages of ``SUPERVISE_CORS_ORIGINS``, and a refused
preflight answered as a problem naming what was refused.

Litestar's own CORS middleware (``CORSConfig`` passed to the application) answers a refused preflight with
``400 Disallowed CORS Origin`` in ``text/plain``, built inside the middleware, and no longer offers the class for
subclassing (``litestar.middleware.cors`` is deprecated). This middleware takes its place, outside the router
as Litestar's is (so 404 and 405 answers carry the grant too), and reads the same ``CORSConfig``."""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.constants import DEFAULT_ALLOWED_CORS_HEADERS
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import HttpMethod, ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from supervise import problems
from supervise.config import Settings
from supervise.http import cors
from supervise.problem_details import PROBLEM_JSON, FieldErrorOut, Problem
from supervise.problems import ProblemType

__all__ = ["CrossOrigin", "allow_cross_origin"]

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
"""A header or method name as HTTP spells one; anything else is not repeated back."""


def allow_cross_origin(app: Litestar, settings: Settings) -> None:
    """Wrap ``app``'s handler (the router inside its exception handling) in :class:`CrossOrigin`, when
    ``SUPERVISE_CORS_ORIGINS`` lists any origin; with none, a browser page on another origin may call nothing."""
    config = cors(settings)
    if config is not None:
        app.asgi_handler = CrossOrigin(app.asgi_handler, config)


class CrossOrigin:
    """ASGI middleware: answers preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
    itself, and adds the grant (``Access-Control-Allow-Origin``, ``Access-Control-Expose-Headers``) to every
    answer to an allowed origin. Every answer to a request with an ``Origin`` varies on it."""

    __slots__ = ("allowed_headers", "app", "config")

    def __init__(self, app: ASGIApp, config: CORSConfig) -> None:
        self.app, self.config = app, config
        self.allowed_headers = {h.lower() for h in (*config.allow_headers, *DEFAULT_ALLOWED_CORS_HEADERS)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
        elif scope["method"] == HttpMethod.OPTIONS and "access-control-request-method" in headers:
            await self._preflight(origin, headers, send)
        else:
            await self.app(scope, receive, self._granting(origin, send))

    def _granting(self, origin: str, send: Send) -> Send:
        allowed = self.config.is_origin_allowed(origin)

        async def granted(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                _vary_on_origin(headers)
                if allowed:
                    headers.update(self.config.simple_headers)
                    headers["Access-Control-Allow-Origin"] = origin
            await send(message)

        return granted

    async def _preflight(self, origin: str, headers: Headers, send: Send) -> None:
        if not self.config.is_origin_allowed(origin):
            # nothing about what is allowed, to a page that may call nothing
            await _refuse(
                send,
                problems.CORS_ORIGIN_REFUSED,
                "This page's origin may not call the API from a browser.",
                [FieldErrorOut("Origin", "not an origin this API allows")],
            )
            return
        method = headers.get("access-control-request-method", "")
        asked = [h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        refused_headers = [h for h in asked if h.lower() not in self.allowed_headers]
        errors = []
        if method not in self.config.allow_methods:
            errors.append(FieldErrorOut("Access-Control-Request-Method", f"{_named(method)} is not routed"))
        errors += [
            FieldErrorOut("Access-Control-Request-Headers", f"{_named(h)} is not allowed") for h in refused_headers
        ]
        if errors:
            kind = (
                problems.CORS_METHOD_REFUSED
                if method not in self.config.allow_methods
                else problems.CORS_HEADERS_REFUSED
            )
            summary = "; ".join(e.message for e in errors[:10])
            await _refuse(send, kind, f"This preflight asks for what the API does not allow: {summary}.", errors[:10])
            return
        granted = MutableScopeHeaders()
        granted.update(self.config.preflight_headers)
        granted["Access-Control-Allow-Origin"] = origin
        await send(HTTPResponseStartEvent(type="http.response.start", status=204, headers=granted.headers))
        await send(HTTPResponseBodyEvent(type="http.response.body", body=b"", more_body=False))


def _named(name: str) -> str:
    return f"`{name}`" if _TOKEN.fullmatch(name) else "this name"


def _vary_on_origin(headers: MutableScopeHeaders) -> None:
    vary = [v.strip() for v in (headers.get("vary") or "").split(",") if v.strip()]
    if "origin" not in {v.lower() for v in vary}:
        headers["Vary"] = ", ".join([*vary, "Origin"])


async def _refuse(send: Send, kind: ProblemType, detail: str, errors: Sequence[FieldErrorOut]) -> None:
    """A problem answer to a refused preflight, without the grant (the browser shows the page no part of it)."""
    body = msgspec.json.encode(
        Problem(type=kind.uri, title=kind.title, status=kind.status, detail=detail, errors=list(errors))
    )
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"vary", b"Origin"),
    ]
    await send(HTTPResponseStartEvent(type="http.response.start", status=kind.status, headers=headers))
    await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))
