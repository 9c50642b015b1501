"""The flags feed: flags that submitted results raised, newest first, from the reviews the caller may read."""

from __future__ import annotations

import uuid

from supervise.aggregates import repository
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.pagination import Page, PageRequest
from supervise.reviews import service as reviews
from supervise.runtime import Runtime
from supervise.scores.service import ReviewFlag

__all__ = ["SEVERITIES", "list_flags"]

SEVERITIES = ("info", "warning", "critical")


async def list_flags(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    therapist_id: uuid.UUID | None,
    severity: str,
) -> Page[ReviewFlag]:
    """Flags raised by submitted reviews you may see, newest first; ``severity`` is the least severe shown."""
    shown = SEVERITIES[SEVERITIES.index(severity) :]
    result = await repository.page_flags(
        tx, reviews.viewer(principal), page, runtime.cursors, therapist_id=therapist_id, severities=shown
    )
    audit.record_read(tx, principal, "aggregate.flags", "review", None)
    return result
