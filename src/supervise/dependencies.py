"""Per-request dependencies shared by every controller: the runtime, one transaction, the caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import service as audit
from supervise.auth import service as auth
from supervise.auth.principal import Principal
from supervise.errors import Forbidden
from supervise.http import request_id
from supervise.runtime import Runtime

__all__ = ["IdempotencyKey", "IfMatch", "dependencies"]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeat a POST safely: the same key and body within 24 hours replays the first response; "
        "the same key with another body is 422.",
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=512,
        description="The ETag of the version being changed. Missing: 428; stale: 412.",
    ),
]


async def provide_tx(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> AsyncGenerator[AsyncSession, None]:
    """One authenticated transaction per request, committed before the response is sent; then the reads it
    noted are audited (group commit, ``audit.ReadLog``), still before the response is sent.

    Authentication happens here, before the first ``yield``, and not in a dependency of its own: Litestar
    does not close generator dependencies already resolved when a later dependency raises, which would leak
    the connection on every 401. The transaction begins (and takes a connection) at the first statement: a
    request answered from the caches (``supervise.cache``) never takes one.
    """
    session = runtime.db.sessions()
    try:
        try:
            caller = await auth.authenticate(
                session,
                runtime,
                request.headers.get("authorization"),
                request_id=request_id(request),
                source_address=request.client.host if request.client else None,
            )
            principal = caller.principal
            request.scope.setdefault("state", {})["caller"] = caller
            yield session
            if session.in_transaction():
                await session.commit()
        except Forbidden:
            # The refused request changed nothing, but the attempt itself belongs in the audit log.
            await session.rollback()
            handler = request.scope.get("route_handler")
            action = getattr(handler, "operation_id", None) or request.method
            resource_id = next((v for v in request.path_params.values() if isinstance(v, uuid.UUID)), None)
            async with session.begin():
                await audit.record(session, principal, str(action), "request", resource_id, outcome="denied")
            raise
        await runtime.reads.write(session)
    finally:
        if session.in_transaction():  # a failure: roll back and give the connection back
            await session.close()


def provide_caller(request: Request[Any, Any, Any], tx: NamedDependency[AsyncSession]) -> auth.Caller:
    """The caller, authenticated by ``provide_tx`` (which it depends on, so it runs after it)."""
    caller: auth.Caller = request.scope["state"]["caller"]
    return caller


def provide_principal(request: Request[Any, Any, Any], tx: NamedDependency[AsyncSession]) -> Principal:
    """The caller's principal, straight from ``provide_tx`` (one dependency fewer to resolve per request)."""
    caller: auth.Caller = request.scope["state"]["caller"]
    return caller.principal


def dependencies(runtime: Runtime) -> dict[str, Provide]:
    """The application's dependencies, for the application that owns ``runtime``."""

    def provide_runtime() -> Runtime:  # a closure, not a lookup in the application's state per request
        return runtime

    return {
        "runtime": Provide(provide_runtime, sync_to_thread=False),
        "tx": Provide(provide_tx),
        "caller": Provide(provide_caller, sync_to_thread=False),
        "principal": Provide(provide_principal, sync_to_thread=False),
    }
