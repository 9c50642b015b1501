"""The hash-chained audit log: every change appends an event in its own transaction; every read of another
member's data is noted and appended by the read log (:class:`supervise.audit.readlog.ReadLog`) once the read's
transaction has committed and before its answer is sent."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import msgspec

from supervise import cache
from supervise.audit import readlog, repository
from supervise.audit.chain import GENESIS_HASH, checkpoint_mac, event_hash, new_event
from supervise.audit.denials import Denials
from supervise.audit.tables import AuditCheckpoint, AuditEvent
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.pagination import CursorCodec, Page, PageRequest

__all__ = [
    "Archivable",
    "ChainBreak",
    "ChainCheck",
    "check_chain",
    "delete_archived",
    "export_lines",
    "list_events",
    "organisations",
    "record",
    "record_denial",
    "record_each",
    "record_read",
    "serialise",
    "sign_archivable",
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
    request_id: str | None = None,
    source_address: str | None = None,
) -> None:
    """Append one event for a change in the caller's transaction: it commits or rolls back with the change it
    records. A successful change also counts as one for the organisation's caches (:mod:`supervise.cache`).
    Without a principal (a client's form link), ``request_id`` and ``source_address`` say where it came from."""
    org = org_id or (principal.org_id if principal else None)
    if org is None:
        raise ValueError("an audit event needs an organisation")
    event = new_event(principal, org, action, resource_type, resource_id, "success", utcnow())
    if principal is None:
        event.request_id, event.source_address = request_id, source_address
    await repository.append(tx, org, [event])
    await cache.bump(tx, org)


async def record_each(tx: Tx, principal: Principal, changes: Sequence[tuple[str, str, uuid.UUID | None]]) -> None:
    """:func:`record` for each of several changes (``(action, resource_type, resource_id)``) one request made,
    in their order: the same events, appended together (a batch's items)."""
    if not changes:
        return
    now = utcnow()
    events = [new_event(principal, principal.org_id, *change, "success", now) for change in changes]
    await repository.append(tx, principal.org_id, events)
    await cache.bump(tx, principal.org_id)


async def record_denial(
    tx: Tx, denials: Denials, principal: Principal, action: str, resource_id: uuid.UUID | None
) -> None:
    """Audit a refused attempt, in a transaction of its own (the refused request changed nothing): appended now
    if it is the first of its kind in the window, else counted with its repeats (:mod:`supervise.audit.denials`)
    and the transaction stays empty."""
    event = new_event(principal, principal.org_id, action, "request", resource_id, "denied", utcnow())
    if denials.admit(event):
        await repository.append(tx, principal.org_id, [event])


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


@dataclass(frozen=True)
class ChainCheck:
    checked: int
    """Events recomputed and found intact (before the break, if there is one)."""
    archived: int
    """Events before the oldest one stored: archived (``supervise audit archive``), verified from a signed
    head."""
    broken: ChainBreak | None


async def verify_chain(tx: Tx, org_id: uuid.UUID) -> ChainBreak | None:
    """Recompute the chain of one organisation (not its signed heads); the first broken link, or None."""
    return (await check_chain(tx, org_id)).broken


async def check_chain(tx: Tx, org_id: uuid.UUID, secret: bytes | None = None) -> ChainCheck:
    """Recompute the chain of one organisation and, given the server secret, check it against its signed heads
    too. A chain rewritten with every later hash recomputed still breaks at its next signed head, and one cut
    short before its last signed head breaks there too.

    A chain whose oldest events were archived starts after seq 1. It verifies, given the secret, if it reaches
    a signed head at or after the last archived event: that head's hash covers, link by link, every event
    from the oldest stored one up to it. Without such a head its start cannot be told from a cut."""
    signed = {c.seq: c for c in await repository.checkpoints(tx, org_id)} if secret is not None else {}
    for seq, stored in signed.items():
        assert secret is not None
        if not hmac.compare_digest(stored.mac, checkpoint_mac(secret, org_id, seq, stored.hash)):
            return ChainCheck(0, 0, ChainBreak(seq, "the checkpoint's signature is not the server secret's"))
    expected_prev, expected_seq, archived, checked = GENESIS_HASH, 1, 0, 0

    def check(broken: ChainBreak | None) -> ChainCheck:
        return ChainCheck(checked, archived, broken)

    async for event in repository.stream_chain(tx, org_id):
        if checked == 0 and event.seq > 1:  # the events before it were archived, or removed
            if not any(seq >= event.seq - 1 for seq in signed):
                return check(ChainBreak(1, f"events 1 to {event.seq - 1} missing, and no signed head after them"))
            anchor = signed.get(event.seq - 1)
            if anchor is not None and anchor.hash != event.prev_hash:
                return check(ChainBreak(event.seq, "prev_hash does not match the head signed before it"))
            expected_prev, expected_seq, archived = event.prev_hash, event.seq, event.seq - 1
        if event.seq != expected_seq:
            return check(ChainBreak(expected_seq, "event missing"))
        if event.prev_hash != expected_prev:
            return check(ChainBreak(event.seq, "prev_hash does not match the previous event"))
        if event_hash(event) != event.hash:
            return check(ChainBreak(event.seq, "event content does not match its hash"))
        signature = signed.get(event.seq)
        if signature is not None and signature.hash != event.hash:
            return check(ChainBreak(event.seq, "the chain does not reach the head signed at this seq"))
        expected_prev, expected_seq, checked = event.hash, event.seq + 1, checked + 1
    beyond = [seq for seq in signed if seq >= expected_seq]
    if beyond:
        return check(ChainBreak(expected_seq, f"events missing: a head was signed at seq {max(beyond)}"))
    return check(None)


async def sign_head(tx: Tx, org_id: uuid.UUID, secret: bytes) -> AuditCheckpoint | None:
    """Sign the organisation's chain head now (``supervise audit checkpoint``); ``None`` if its chain is empty.
    Signing a head signed before stores nothing new and returns the same checkpoint."""
    head = await repository.chain_head(tx, org_id)
    return None if head is None else await _sign(tx, org_id, *head, secret)


async def _sign(tx: Tx, org_id: uuid.UUID, seq: int, hash_: str, secret: bytes) -> AuditCheckpoint:
    checkpoint = AuditCheckpoint(
        org_id=org_id, seq=seq, hash=hash_, mac=checkpoint_mac(secret, org_id, seq, hash_), created_at=utcnow()
    )
    return await repository.add_checkpoint(tx, checkpoint)


@dataclass(frozen=True)
class Archivable:
    first: int
    """The oldest event stored."""
    checkpoint: AuditCheckpoint
    """The head signed at the newest event to archive."""


async def sign_archivable(tx: Tx, org_id: uuid.UUID, before: dt.datetime, secret: bytes) -> Archivable | None:
    """Archiving, first step: sign the chain at its newest event older than ``before`` that is not its head
    (``None``: nothing to archive). Commit this before deleting anything: the events up to a signed head are
    the only ones the database lets go, and the chain that remains verifies from that head."""
    found = await repository.archivable(tx, org_id, before)
    if found is None:
        return None
    first, seq, hash_ = found
    return Archivable(first, await _sign(tx, org_id, seq, hash_, secret))


async def export_lines(tx: Tx, org_id: uuid.UUID, checkpoint: AuditCheckpoint) -> AsyncIterator[bytes]:
    """Archiving, second step: the events up to ``checkpoint``, oldest first, one JSON object per line with
    every hashed field (as ``GET /v1/audit-events`` names them, plus ``org_id``), then the checkpoint."""
    async for event in repository.stream_chain(tx, org_id, through=checkpoint.seq):
        yield msgspec.json.encode({name: getattr(event, _STORED.get(name, name)) for name in _EXPORTED}) + b"\n"
    signed = {"org_id": org_id, "seq": checkpoint.seq, "hash": checkpoint.hash, "mac": checkpoint.mac}
    yield msgspec.json.encode({"checkpoint": signed}) + b"\n"


_EXPORTED = [
    *("id", "org_id", "seq", "occurred_at", "actor_member_id", "api_key_id", "action", "resource_type"),
    *("resource_id", "outcome", "request_id", "source_address", "count", "token_issuer", "token_subject"),
    *("prev_hash", "hash"),
]
_STORED = {"occurred_at": "created_at"}


async def delete_archived(tx: Tx, org_id: uuid.UUID, checkpoint: AuditCheckpoint) -> int:
    """Archiving, last step, once the export is safe: delete the events up to ``checkpoint``; how many."""
    return await repository.delete_through(tx, org_id, checkpoint.seq)


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
