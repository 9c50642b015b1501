"""The outbox and the change feed.

Every change a clinic system cares about calls :func:`record` in its own transaction, beside the audit event
it writes: the event commits or rolls back with the change. The feed (:func:`feed`) serves an organisation's
events in commit order after a cursor (an event's ``seq``); events are kept for a retention period
(``SUPERVISE_EVENT_RETENTION_DAYS``, 30 days by default) and then pruned (:func:`prune`), and a cursor older
than the pruned events is refused (410) rather than silently skipping them.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import uuid
from dataclasses import dataclass

import msgspec

from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import EventsExpired
from supervise.events import repository
from supervise.events.schemas import EVENT_TYPES, EventOut, EventTypeOut, Payload
from supervise.events.tables import Event, WebhookEndpoint

__all__ = ["Feed", "catalogue", "envelope", "feed", "prune", "record"]


async def record(tx: Tx, org_id: uuid.UUID, *payloads: Payload) -> None:
    """Append one event per payload to the organisation's outbox, in the caller's transaction.

    The organisation's audit-chain lock is taken first (it usually is already, by the change's audit event):
    every writer takes that lock before the outbox's counter row, so two writers never wait for each other in
    opposite orders."""
    if not payloads:
        return
    await audit.serialise(tx, org_id)
    now = utcnow()
    rows = [{"id": new_id(), "type": p.TYPE, "occurred_at": now, "data": msgspec.to_builtins(p)} for p in payloads]
    seqs = await repository.append(tx, org_id, rows)
    endpoints = await repository.active_endpoints(tx, org_id)
    if endpoints:
        events = [Event(org_id=org_id, seq=seq, **row) for seq, row in zip(seqs, rows, strict=True)]
        await repository.add_deliveries(
            tx, [_delivery(e, event, now) for event in events for e in endpoints if event.type in e.event_types]
        )


def _delivery(endpoint: WebhookEndpoint, event: Event, now: dt.datetime) -> dict[str, object]:
    """One event for one endpoint, due now; its body is the event as the feed serves it, the same bytes on every
    attempt."""
    return {
        "id": new_id(),
        "org_id": endpoint.org_id,
        "endpoint_id": endpoint.id,
        "event_id": event.id,
        "event_type": event.type,
        "body": msgspec.json.encode(envelope(event)).decode(),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def envelope(event: Event) -> EventOut:
    """An outbox row as the feed serves it and a webhook sends it."""
    fields = {
        "type": event.type,
        "id": event.id,
        "seq": event.seq,
        "timestamp": event.occurred_at,
        "organisation_id": event.org_id,
        "data": event.data,
    }
    out: EventOut = msgspec.convert(fields, EventOut)
    return out


@dataclass(frozen=True, slots=True)
class Feed:
    events: list[Event]
    next_cursor: int
    has_more: bool
    """Whether events after ``next_cursor`` exist already."""


async def feed(tx: Tx, principal: Principal, after: int | None, limit: int) -> Feed:
    """The organisation's events numbered after ``after`` (``None``: from the oldest kept), oldest first. A
    cursor before events pruned since is refused. Audited as a read."""
    sequence = await repository.sequence(tx, principal.org_id)
    pruned = sequence.pruned_through if sequence is not None else 0
    if after is None:
        after = pruned
    elif after < pruned:
        raise EventsExpired(
            f"Events up to {pruned} were pruned (retention); this cursor ({after}) would skip them. Sync from "
            "the lists, then read the feed from its oldest event kept (without after)."
        )
    events = await repository.page_after(tx, principal.org_id, after, limit + 1)
    has_more = len(events) > limit
    events = events[:limit]
    audit.record_read(tx, principal, "event.list", "event", None)
    return Feed(events, events[-1].seq if events else after, has_more)


async def prune(tx: Tx, before: dt.datetime) -> tuple[int, int]:
    """Delete every organisation's events older than ``before``, and the webhook deliveries settled before it;
    how many of each. Each organisation's feed loses a prefix: the events up to its newest one older than
    ``before`` (a feed never has a hole). Pending deliveries stay, with the event they carry."""
    pruned = 0
    for org_id, seq in await repository.prunable(tx, before):
        await audit.serialise(tx, org_id)
        pruned += await repository.prune_through(tx, org_id, seq)
    return pruned, await repository.prune_deliveries(tx, before)


@functools.cache
def catalogue() -> list[EventTypeOut]:
    """Every event type, its description and the JSON Schema of its events."""
    return [
        EventTypeOut(
            type=name,  # type: ignore[arg-type]
            description=inspect.cleandoc(payload.__doc__ or ""),
            schema=msgspec.json.schema(envelope_type),
        )
        for name, (payload, envelope_type) in EVENT_TYPES.items()
    ]
