"""``/v1/audit-events``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, cast

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import service
from supervise.audit.schemas import AuditEventOut, AuditEventPage
from supervise.audit.tables import AuditEvent
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.http import problem_responses
from supervise.pagination import DEFAULT_LIMIT, PageRequest
from supervise.parameters import Cursor, Limit
from supervise.runtime import Runtime

__all__ = ["AuditEventController"]


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        seq=event.seq,
        occurred_at=event.created_at,
        actor_member_id=event.actor_member_id,
        api_key_id=event.api_key_id,
        action=event.action,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        outcome=cast("Literal['success', 'denied']", event.outcome),
        request_id=event.request_id,
        source_address=event.source_address,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


class AuditEventController(Controller):
    path = "/v1/audit-events"
    tags = ["Audit"]

    @get(
        "/",
        operation_id="listAuditEvents",
        permission=permissions.AuditAdmin,
        summary="Read the audit log (admin)",
        description="Newest first: every write, every read of another member's data, every refused attempt. "
        "Ids only, never content.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_events(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        action: Annotated[
            str | None,
            QueryParameter(
                min_length=1,
                max_length=64,
                pattern=r"^[A-Za-z0-9_.:-]+$",
                description="Only this action, e.g. member.create.",
            ),
        ] = None,
        resource_id: Annotated[uuid.UUID | None, QueryParameter(description="Only events about this id.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> AuditEventPage:
        scope = f"audit-events?action={action}&resource={resource_id}"
        page_request = PageRequest(org_id=principal.org_id, scope=scope, cursor=cursor, limit=limit)
        page = await service.list_events(
            tx, runtime.cursors, principal, page_request, action=action, resource_id=resource_id
        )
        return AuditEventPage(items=[event_out(e) for e in page.items], next_cursor=page.next_cursor)
