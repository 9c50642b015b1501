"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import repository
from supervise.audit.tables import AuditEvent
from supervise.auth.principal import Principal, Scope
from supervise.db import new_id, utcnow
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = ["GENESIS_HASH", "ChainBreak", "event_hash", "list_events", "record", "verify_chain"]

GENESIS_HASH = "0" * 64


def event_hash(event: AuditEvent) -> str:
    canonical = msgspec.json.encode(
        [
            str(event.org_id),
            event.seq,
            event.created_at.isoformat(),
            str(event.actor_member_id) if event.actor_member_id else None,
            str(event.api_key_id) if event.api_key_id else None,
            event.action,
            event.resource_type,
            str(event.resource_id) if event.resource_id else None,
            event.outcome,
            event.request_id,
            event.source_address,
            event.prev_hash,
        ]
    )
    return hashlib.sha256(canonical).hexdigest()


async def record(
    tx: AsyncSession,
    principal: Principal | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    *,
    org_id: uuid.UUID | None = None,
    outcome: str = "success",
) -> AuditEvent:
    """Append one event in the caller's transaction: it commits or rolls back with the change it records."""
    org = org_id or (principal.org_id if principal else None)
    if org is None:
        raise ValueError("an audit event needs an organisation")
    await repository.lock_chain(tx, org)
    head = await repository.chain_head(tx, org)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        id=new_id(),
        org_id=org,
        seq=seq,
        created_at=utcnow(),
        actor_member_id=principal.member_id if principal else None,
        api_key_id=principal.api_key_id if principal else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        request_id=principal.request_id if principal else None,
        source_address=principal.source_address if principal else None,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    tx.add(event)
    await tx.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


async def verify_chain(tx: AsyncSession, org_id: uuid.UUID) -> ChainBreak | None:
    """Recompute the chain of one organisation; the first broken link, or None when intact."""
    expected_prev, expected_seq = GENESIS_HASH, 1
    result = await tx.stream_scalars(select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(AuditEvent.seq))
    async for event in result:
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, "event missing")
        if event.prev_hash != expected_prev:
            return ChainBreak(event.seq, "prev_hash does not match the previous event")
        if event_hash(event) != event.hash:
            return ChainBreak(event.seq, "event content does not match its hash")
        expected_prev, expected_seq = event.hash, event.seq + 1
    return None


async def list_events(
    tx: AsyncSession,
    cursors: CursorCodec,
    principal: Principal,
    page: PageRequest,
    *,
    action: str | None,
    resource_id: uuid.UUID | None,
) -> Page[AuditEvent]:
    """Newest first. Reading the audit log is itself audited."""
    principal.require_scope(Scope.AUDIT_READ)
    principal.require_admin("read the audit log")
    stmt = repository.select_events(principal.org_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    result = await fetch_page(tx, stmt, AuditEvent.created_at, AuditEvent.id, page, cursors, descending=True)
    await record(tx, principal, "audit_event.list", "audit_event", None)
    return result
