"""Named queries over the audit log."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import Select, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from supervise.audit.tables import AuditEvent

__all__ = ["Executor", "chain_head", "chain_lock_key", "lock_chain", "select_events"]


Executor = AsyncSession | AsyncConnection
"""A session, or a bare connection (the read log's group commit runs without the ORM)."""


def _dialect(tx: Executor) -> str:
    return (tx.get_bind() if isinstance(tx, AsyncSession) else tx).dialect.name


async def lock_chain(tx: Executor, org_id: uuid.UUID) -> None:
    """Serialise appends to one organisation's chain until commit.

    On SQLite every write transaction already holds the database lock (BEGIN IMMEDIATE).
    """
    if _dialect(tx) == "postgresql":
        await tx.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": chain_lock_key(org_id)})


def chain_lock_key(org_id: uuid.UUID) -> int:
    """The PostgreSQL advisory lock that serialises appends to ``org_id``'s chain."""
    return int.from_bytes(hashlib.sha256(b"audit" + org_id.bytes).digest()[:8], "big", signed=True)


_EVENTS = AuditEvent.__table__.c
_HEAD = (
    select(_EVENTS.seq, _EVENTS.hash)
    .where(_EVENTS.org_id == bindparam("org", type_=Uuid()))
    .order_by(_EVENTS.seq.desc())
    .limit(1)
)


async def chain_head(tx: Executor, org_id: uuid.UUID) -> tuple[int, str] | None:
    row = (await tx.execute(_HEAD, {"org": org_id})).first()
    return (row.seq, row.hash) if row else None


def select_events(org_id: uuid.UUID) -> Select[AuditEvent]:
    return select(AuditEvent).where(AuditEvent.org_id == org_id)
