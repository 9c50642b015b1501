"""The hash-chained audit log: every change appends an event in its own transaction; every read of another
member's data is noted and appended by the read log (:class:`supervise.audit.readlog.ReadLog`) once the read's
transaction has committed and before its answer is sent."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from supervise import cache
from supervise.audit import readlog, repository
from supervise.audit.chain import GENESIS_HASH, checkpoint_mac, event_hash, new_event
from supervise.audit.tables import AuditCheckpoint, AuditEvent
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.pagination import CursorCodec, Page, PageRequest

__all__ = [
    "ChainBreak",
    "check_chain",
    "list_events",
    "organisations",
    "record",
    "record_read",
    "serialise",
    "sign_head",
]


async def record(
    tx: Tx,
    principal: Principal | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    *,
    org_id: uuid.UUID | None = None,
    outcome: str = "success",
) -> None:
    """Append one event for a change in the caller's transaction: it commits or rolls back with the change it
    records. A successful change also counts as one for the organisation's caches (:mod:`supervise.cache`)."""
    org = org_id or (principal.org_id if principal else None)
    if org is None:
        raise ValueError("an audit event needs an organisation")
    event = new_event(principal, org, action, resource_type, resource_id, outcome, utcnow())
    await repository.append(tx, org, [event])
    if outcome == "success":
        await cache.bump(tx, org)


async def serialise(tx: Tx, org_id: uuid.UUID) -> None:
    """Take the organisation's audit-chain lock now rather than at :func:`record`: a writer that then changes
    rows other writers also change (the rollups) takes its locks in the one order every writer uses — this
    lock first — so two such writers queue instead of deadlocking. Held until the transaction ends."""
    await repository.lock_chain(tx, org_id)


def record_read(tx: Tx, principal: Principal, action: str, resource_type: str, resource_id: uuid.UUID | None) -> None:
    """Note a read to be audited. The event is written after the request's transaction commits and before its
    answer leaves, together with the reads of concurrent requests (:class:`~supervise.audit.readlog.ReadLog`):
    one commit for many reads instead of one each. A request that fails writes none, as it released nothing."""
    event = new_event(principal, principal.org_id, action, resource_type, resource_id, "success", utcnow())
    readlog.note(tx, event)


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


async def verify_chain(tx: Tx, org_id: uuid.UUID) -> ChainBreak | None:
    """Recompute the chain of one organisation (not its signed heads); the first broken link, or None."""
    return (await check_chain(tx, org_id))[1]


async def check_chain(tx: Tx, org_id: uuid.UUID, secret: bytes | None = None) -> tuple[int, ChainBreak | None]:
    """Recompute the chain of one organisation and, given the server secret, check it against its signed heads
    too: how many events were found intact, and the first broken link (``None`` when there is none). A chain
    rewritten with every later hash recomputed still breaks at its next signed head, and one cut short before
    its last signed head breaks there too."""
    signed = {c.seq: c for c in await repository.checkpoints(tx, org_id)} if secret is not None else {}
    for seq, stored in signed.items():
        assert secret is not None
        if not hmac.compare_digest(stored.mac, checkpoint_mac(secret, org_id, seq, stored.hash)):
            return 0, ChainBreak(seq, "the checkpoint's signature is not the server secret's")
    expected_prev, expected_seq = GENESIS_HASH, 1
    async for event in repository.stream_chain(tx, org_id):
        if event.seq != expected_seq:
            return expected_seq - 1, ChainBreak(expected_seq, "event missing")
        if event.prev_hash != expected_prev:
            return expected_seq - 1, ChainBreak(event.seq, "prev_hash does not match the previous event")
        if event_hash(event) != event.hash:
            return expected_seq - 1, ChainBreak(event.seq, "event content does not match its hash")
        signature = signed.get(event.seq)
        if signature is not None and signature.hash != event.hash:
            return expected_seq - 1, ChainBreak(event.seq, "the chain does not reach the head signed at this seq")
        expected_prev, expected_seq = event.hash, event.seq + 1
    beyond = [seq for seq in signed if seq >= expected_seq]
    if beyond:
        return expected_seq - 1, ChainBreak(expected_seq, f"events missing: a head was signed at seq {max(beyond)}")
    return expected_seq - 1, None


async def sign_head(tx: Tx, org_id: uuid.UUID, secret: bytes) -> AuditCheckpoint | None:
    """Sign the organisation's chain head now (``supervise audit checkpoint``); ``None`` if its chain is empty.
    Signing a head signed before stores nothing new and returns the same checkpoint."""
    head = await repository.chain_head(tx, org_id)
    if head is None:
        return None
    seq, hash_ = head
    checkpoint = AuditCheckpoint(
        org_id=org_id, seq=seq, hash=hash_, mac=checkpoint_mac(secret, org_id, seq, hash_), created_at=utcnow()
    )
    return await repository.add_checkpoint(tx, checkpoint)


async def organisations(tx: Tx) -> list[uuid.UUID]:
    """Every organisation's id, oldest first: the chains there are to verify."""
    return await repository.organisation_ids(tx)


async def list_events(
    tx: Tx,
    cursors: CursorCodec,
    principal: Principal,
    page: PageRequest,
    *,
    action: str | None,
    resource_id: uuid.UUID | None,
) -> tuple[Page[AuditEvent], dict[uuid.UUID, uuid.UUID]]:
    """Newest first, and who made the keys of the page's events that were made for their owner by someone
    else (key id -> maker). Reading the audit log is itself audited."""
    result = await repository.page_events(tx, page, cursors, action=action, resource_id=resource_id)
    keys = {event.api_key_id for event in result.items if event.api_key_id is not None}
    makers = await repository.key_makers(tx, page.org_id, keys)
    record_read(tx, principal, "audit_event.list", "audit_event", None)
    return result, makers
