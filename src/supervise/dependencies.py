"""A request's life: authenticated, its permission checked, one transaction, then its reads audited.

1. :class:`Authentication` (middleware, right after routing, inside the metrics' middleware) refuses a request
   with more than ``MAX_HEADERS`` header fields (431), authenticates the caller of every route that declares a
   permission (:mod:`supervise.auth.permissions`) in the request's one session, counts the request against its
   rate limits (:mod:`supervise.throttle`; 429), and checks that permission (403, audited, before anything else
   about the request is looked at). It answers what it refuses itself, so the metrics see each status. It owns
   that session:
   whatever fails later (an unknown query parameter, a body that is not JSON, the handler), the session is
   closed and its connection returned before the middleware returns.
2. ``tx`` (:func:`provide_tx`) hands the handler that session; the transaction begins at its first statement
   (a request answered from the caches, :mod:`supervise.cache`, never takes a connection), is committed
   before the response is sent, and the reads it noted are then audited (group commit, ``audit.ReadLog``),
   still before the response is sent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from supervise import problems
from supervise.audit import service as audit
from supervise.auth import service as auth
from supervise.auth.permissions import Requires, Token
from supervise.auth.principal import Principal
from supervise.errors import DomainError, Forbidden, Unauthorized
from supervise.http import problem, provide_once, scope_request_id
from supervise.logs import REQUEST_ID
from supervise.runtime import Runtime
from supervise.server import MAX_HEADERS
from supervise.throttle import Limited

__all__ = ["Authentication", "Visitor", "authentication", "caller_of", "dependencies"]

_CALLER = "caller"
_SESSION = "session"
_VISITOR = "visitor"


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who calls a route without an API key (a client's form link): only where from, for the audit log."""

    request_id: str
    source_address: str | None


class Authentication:
    """Authenticates the caller of every route that declares a permission (public routes declare none) and
    checks it, in the request's session, which it closes, whatever happens, before it returns. A plain ASGI
    middleware: Litestar wraps it around each route, after routing, so the route's handler is known."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        REQUEST_ID.set(scope_request_id(scope))  # for every line logged while serving it (supervise.logs)
        try:
            await self._serve(scope, receive, send)
        except DomainError as exc:  # answered here, not left to Litestar: the metrics outside see its status
            request: Request[Any, Any, Any] = Request(scope, receive)
            await problem(request, exc).to_asgi_response(app=None, request=request)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope["headers"]
        if (len(headers) if isinstance(headers, list) else sum(1 for _ in headers)) > MAX_HEADERS:
            raise HeadersTooLarge(
                problems.REQUEST_HEADER_FIELDS_TOO_LARGE, f"A request may carry at most {MAX_HEADERS} header fields."
            )
        handler = scope["route_handler"]
        permission: Requires | Token | None = handler.opt.get("permission")
        runtime = self.runtime
        client = scope.get("client")
        address = client_address(client[0]) if client else None
        if permission is None:
            limited = await runtime.throttle.anonymous(address)
            await self.app(scope, receive, _with_headers(send, limited))
            return
        session = runtime.db.sessions()
        limited = None
        if isinstance(permission, Token):  # a client's form link: the token in the URL is the credential
            try:
                token = str(scope.get("path_params", {}).get("token", ""))
                limited = await runtime.throttle.form_link(address, hashlib.sha256(token.encode()).hexdigest())
                state = scope.setdefault("state", {})
                state[_SESSION], state[_VISITOR] = session, Visitor(scope_request_id(scope), address)
                await self.app(scope, receive, _with_headers(send, limited))
            finally:
                if session.in_transaction():
                    await session.close()
            return
        try:
            authorization = next((v for k, v in headers if k == b"authorization"), None)
            try:
                caller = await auth.authenticate(
                    session,
                    runtime,
                    authorization.decode("latin-1") if authorization is not None else None,
                    request_id=scope_request_id(scope),
                    source_address=address,
                )
            except Unauthorized as exc:
                limited = await runtime.throttle.anonymous(address)  # 429 instead, past the address's limit
                if limited is not None:
                    exc.headers.update(limited.headers())
                raise
            principal = caller.principal
            limited = await runtime.throttle.caller(principal.credential_id, principal.org_id)
            state = scope.setdefault("state", {})
            state[_CALLER], state[_SESSION] = caller, session
            refused = permission.refusal(principal)
            if refused is not None:
                await _record_refusal(session, runtime, principal, scope)
                raise Forbidden(*refused, headers=limited.headers() if limited is not None else None)
            await self.app(scope, receive, _with_headers(send, limited))
        finally:
            if session.in_transaction():  # a failure: roll back and give the connection back
                await session.close()


def _with_headers(send: Send, limited: Limited | None) -> Send:
    """``send``, adding the RateLimit header fields of ``limited`` to the response."""
    if limited is None:
        return send
    fields = [(name.lower().encode(), value.encode()) for name, value in limited.headers().items()]

    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *fields]
        await send(message)

    return stamped


class HeadersTooLarge(DomainError):
    status = 431


@lru_cache(maxsize=4096)
def client_address(host: str) -> str | None:
    """The client's address as the audit log keeps it: an IP address in its normal form, else nothing (the
    server's own host name for a test client, or whatever a misconfigured proxy forwarded)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> auth.Caller:
    """The caller :class:`Authentication` authenticated for this request."""
    caller: auth.Caller = connection.scope["state"][_CALLER]
    return caller


async def _record_refusal(session: AsyncSession, runtime: Runtime, principal: Principal, scope: Scope) -> None:
    """A refused request changes nothing, but the attempt itself belongs in the audit log (coalesced with its
    repeats: ``audit.record_denial``)."""
    await session.rollback()
    handler = scope.get("route_handler")
    action = getattr(handler, "operation_id", None) or scope.get("method", "request")
    path_params: dict[str, Any] = scope.get("path_params", {})
    resource_id = next((v for v in path_params.values() if isinstance(v, uuid.UUID)), None)
    async with session.begin():  # takes a connection only if the refusal is written now
        await audit.record_denial(session, runtime.denials, principal, str(action), resource_id)


async def provide_tx(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> AsyncGenerator[AsyncSession, None]:
    """The request's session (see the module's docstring): committed before the response is sent, then the
    reads it noted are audited. A 403 the handler raises (a rule that depends on the data) is audited too."""
    session: AsyncSession = request.scope["state"][_SESSION]
    try:
        try:
            yield session
            if session.in_transaction():
                await session.commit()
        except Forbidden:
            if _CALLER in request.scope["state"]:
                await _record_refusal(session, runtime, caller_of(request).principal, request.scope)
            raise
        await runtime.reads.write(session)
    finally:
        if session.in_transaction():  # a failure: roll back before the error response is sent
            await session.close()


def provide_caller(request: Request[Any, Any, Any], tx: NamedDependency[AsyncSession]) -> auth.Caller:
    """The caller (after ``tx``, so that the transaction is committed whatever the handler asks for)."""
    return caller_of(request)


def provide_principal(request: Request[Any, Any, Any], tx: NamedDependency[AsyncSession]) -> Principal:
    """The caller's principal (after ``tx``, as :func:`provide_caller`)."""
    return caller_of(request).principal


def provide_visitor(request: Request[Any, Any, Any], tx: NamedDependency[AsyncSession]) -> Visitor:
    """Where a form link's caller came from (after ``tx``, as :func:`provide_caller`)."""
    visitor: Visitor = request.scope["state"][_VISITOR]
    return visitor


def authentication(runtime: Runtime) -> DefineMiddleware:
    """The :class:`Authentication` middleware of the application that owns ``runtime``."""
    return DefineMiddleware(Authentication, runtime=runtime)


def dependencies(runtime: Runtime) -> dict[str, Provide]:
    """The application's dependencies, for the application that owns ``runtime``."""

    def provide_runtime() -> Runtime:  # a closure, not a lookup in the application's state per request
        return runtime

    return {
        "runtime": Provide(provide_runtime, sync_to_thread=False),
        "tx": Provide(provide_tx),
        "caller": Provide(provide_caller, sync_to_thread=False),
        "principal": Provide(provide_principal, sync_to_thread=False),
        "visitor": Provide(provide_visitor, sync_to_thread=False),
        "once": Provide(provide_once, sync_to_thread=False),
    }
