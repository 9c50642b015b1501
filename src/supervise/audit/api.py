"""``/v1/audit-events``."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from supervise.audit import service
from supervise.audit.schemas import AuditEventOut, AuditEventPage
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import With, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import Cursor, Limit, page
from supervise.runtime import Runtime

__all__ = ["AuditEventController"]


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
        tx: NamedDependency[Tx],
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
        found, makers = await service.list_events(
            tx,
            runtime.cursors,
            principal,
            page(principal, scope, cursor, limit),
            action=action,
            resource_id=resource_id,
        )
        items = [
            to(AuditEventOut, With(event, key_made_by=makers.get(event.api_key_id) if event.api_key_id else None))
            for event in found.items
        ]
        return AuditEventPage(items=items, next_cursor=found.next_cursor, has_more=found.has_more)
