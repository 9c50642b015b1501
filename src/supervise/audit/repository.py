"""Named queries over the audit log."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit.tables import AuditEvent

__all__ = ["chain_head", "lock_chain", "select_events"]


async def lock_chain(tx: AsyncSession, org_id: uuid.UUID) -> None:
    """Serialise appends to one organisation's chain until commit.

    On SQLite every write transaction already holds the database lock (BEGIN IMMEDIATE).
    """
    if tx.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"audit" + org_id.bytes).digest()[:8], "big", signed=True)
        await tx.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def chain_head(tx: AsyncSession, org_id: uuid.UUID) -> tuple[int, str] | None:
    row = (
        await tx.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.org_id == org_id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    return (row.seq, row.hash) if row else None


def select_events(org_id: uuid.UUID) -> Select[AuditEvent]:
    return select(AuditEvent).where(AuditEvent.org_id == org_id)
