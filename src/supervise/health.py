"""``/healthz`` (the process answers) and ``/readyz`` (database reachable, schema at head)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from supervise.runtime import Runtime

__all__ = ["HealthController"]


class Health(msgspec.Struct, kw_only=True):
    status: str = msgspec.field(default="ok")


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    """``ok`` or ``unavailable``."""
    database: str
    """``ok`` or the reason it is not."""
    schema_revision: str | None
    expected_revision: str | None


class HealthController(Controller):
    path = "/"
    tags = ["Health"]
    security = [{}]

    @get(
        "/healthz",
        operation_id="getHealth",
        summary="Liveness: the process answers",
        description="200 while the process serves requests; it reads nothing. Needs no API key.",
    )
    async def healthz(self) -> Health:
        return Health()

    @get(
        "/readyz",
        operation_id="getReadiness",
        summary="Readiness: database reachable and schema at head",
        description="200 when the database answers and its schema is at the migrations' head, else 503 with the "
        "reason. Needs no API key.",
        responses={503: ResponseSpec(data_container=Readiness, description="Not ready; the body says why.")},
    )
    async def readyz(self, runtime: NamedDependency[Runtime]) -> Response[Readiness]:
        expected = runtime.head_revision
        try:
            current = await runtime.db.schema_revision()
        except Exception as exc:  # any failure to reach the database makes us unready
            body = Readiness(
                status="unavailable",
                database=f"unreachable: {type(exc).__name__}",
                schema_revision=None,
                expected_revision=expected,
            )
            return Response(body, status_code=503)
        ready = current == expected
        body = Readiness(
            status="ok" if ready else "unavailable",
            database="ok" if ready else "schema is not at head: run 'supervise db upgrade'",
            schema_revision=current,
            expected_revision=expected,
        )
        return Response(body, status_code=200 if ready else 503)
