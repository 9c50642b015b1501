"""Conditional GET: an answer with a validator is ``Cache-Control: private, no-cache``, and ``If-None-Match``
with a matching tag gets ``304 Not Modified`` and no body.

Single resources carry the ETag of their row version. Aggregate views (``/v1/aggregates/...``) carry a strong
ETag of the bytes answered: the views themselves are cached against the organisation's change counter
(``supervise.cache``), so asking again costs no computation, and a digest of the answer stays exact where the
counter alone would not be (an expiring consent changes a view without changing the counter), and whoever asks
(a view depends on who may see what).

``private, no-cache`` rather than ``no-store``: a browser or client may keep the answer but must revalidate it
on every use, so it never shows a stale figure yet transfers nothing when nothing changed; ``private`` keeps it
out of shared caches, since every answer depends on the caller's key. Answers without a validator (lists,
errors) stay ``no-store``.
"""

from __future__ import annotations

import hashlib

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

__all__ = ["ConditionalGet", "matches"]

REVALIDATE = "private, no-cache"
_VIEWS = "/v1/aggregates/"


def matches(if_none_match: str, tag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): ``*``, or any listed tag with the same opaque value."""
    opaque = tag.removeprefix("W/")
    candidates = [candidate.strip().removeprefix("W/") for candidate in if_none_match.split(",")]
    return "*" in candidates or opaque in candidates


class ConditionalGet:
    """ASGI middleware (outside the application's routing): holds a GET's 200 answer that has or gets an ETag
    until its body is complete, then sends it, or a 304 in its place."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        asked = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), None)
        view = scope["path"].startswith(_VIEWS)
        held: HTTPResponseStartEvent | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if message["status"] == 200 and ("etag" in headers or view):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _answer(held, b"".join(chunks), asked, send)
                return
            await send(message)

        await self.app(scope, receive, hold)


async def _answer(start: HTTPResponseStartEvent, body: bytes, asked: str | None, send: Send) -> None:
    headers = MutableScopeHeaders.from_message(start)
    tag = headers.get("etag")
    if tag is None:
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers["ETag"] = tag
    headers["Cache-Control"] = REVALIDATE
    if asked is not None and matches(asked, tag):
        start["status"] = 304
        for name in ("content-type", "content-length"):
            if name in headers:
                del headers[name]
        body = b""
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
