"""A request's life: authenticated, its permission checked, one transaction, then its reads audited.

1. :class:`Authentication` (middleware, right after routing) authenticates the caller of every route that
   declares a permission (:mod:`supervise.auth.permissions`) in the request's one session, and checks that
   permission (403, audited, before anything else about the request is looked at). It owns that session:
   whatever fails later (an unknown query parameter, a body that is not JSON, the handler), the session is
   closed and its connection returned before the middleware returns.
2. ``tx`` (:func:`provide_tx`) hands the handler that session; the transaction begins at its first statement
   (a request answered from the caches, :mod:`supervise.cache`, never takes a connection), is committed
   before the response is sent, and the reads it noted are then audited (group commit, ``audit.ReadLog``),
   still before the response is sent.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncGenerator
from functools import lru_cache
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import service as audit
from supervise.auth import service as auth
from supervise.auth.permissions import Requires
from supervise.auth.principal import Principal
from supervise.errors import Forbidden
from supervise.http import provide_once, scope_request_id
from supervise.runtime import Runtime

__all__ = ["Authentication", "authentication", "caller_of", "dependencies"]

_CALLER = "caller"
_SESSION = "session"


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
        handler = scope["route_handler"]
        permission: Requires | None = handler.opt.get("permission")
        if permission is None:
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        session = runtime.db.sessions()
        try:
            client = scope.get("client")
            authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            caller = await auth.authenticate(
                session,
                runtime,
                authorization.decode("latin-1") if authorization is not None else None,
                request_id=scope_request_id(scope),
                source_address=client_address(client[0]) if client else None,
            )
            state = scope.setdefault("state", {})
            state[_CALLER], state[_SESSION] = caller, session
            reason = permission.refusal(caller.principal)
            if reason is not None:
                await _record_refusal(session, caller.principal, scope)
                raise Forbidden(reason)
            await self.app(scope, receive, send)
        finally:
            if session.in_transaction():  # a failure: roll back and give the connection back
                await session.close()


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


async def _record_refusal(session: AsyncSession, principal: Principal, scope: Scope) -> None:
    """A refused request changes nothing, but the attempt itself belongs in the audit log."""
    await session.rollback()
    handler = scope.get("route_handler")
    action = getattr(handler, "operation_id", None) or scope.get("method", "request")
    path_params: dict[str, Any] = scope.get("path_params", {})
    resource_id = next((v for v in path_params.values() if isinstance(v, uuid.UUID)), None)
    async with session.begin():
        await audit.record(session, principal, str(action), "request", resource_id, outcome="denied")


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
            await _record_refusal(session, caller_of(request).principal, request.scope)
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
        "once": Provide(provide_once, sync_to_thread=False),
    }
