"""Named queries over the outbox.

Why the feed's order is commit order: :func:`append` takes its numbers by incrementing the organisation's
``event_sequences`` row (an upsert), which holds that row's lock until the transaction ends. On PostgreSQL a
concurrent writer of the same organisation waits at that row until the first commits (or rolls back), then
reads the committed value (READ COMMITTED re-reads a row it waited for) and takes the next numbers. So within an
organisation a number is only ever given once every smaller number is committed or given back, and a reader
that sees event ``n`` sees every event before it: a cursor never passes an event that commits later. (A
sequence or an autoincrement would not do: its values are handed out at insert, and a transaction holding a
smaller one may commit after a larger one is visible.) SQLite has one writer at a time (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from supervise.db import Tx, affected, new_id
from supervise.events.tables import Event, EventSequence, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = [
    "WORKER_LOST",
    "active_endpoints",
    "add_deliveries",
    "append",
    "claim_due",
    "delete_endpoint",
    "disable_endpoint",
    "finish_attempt",
    "get_delivery",
    "get_endpoint",
    "page_after",
    "page_attempts",
    "page_deliveries",
    "page_endpoints",
    "prunable",
    "prune_deliveries",
    "prune_through",
    "sequence",
]


async def append(tx: Tx, org_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Number ``rows`` (``id``, ``type``, ``occurred_at``, ``data``) after the organisation's newest event and
    insert them; their numbers. The organisation's counter row stays locked to the commit."""
    dialect: Any = postgresql if tx.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(EventSequence).values(org_id=org_id, last_seq=len(rows), pruned_through=0)
    stmt = upsert.on_conflict_do_update(
        index_elements=["org_id"], set_={"last_seq": EventSequence.last_seq + len(rows)}
    ).returning(EventSequence.last_seq)
    last = int((await tx.execute(stmt)).scalar_one())
    first = last - len(rows) + 1
    numbered = [{**row, "org_id": org_id, "seq": first + i} for i, row in enumerate(rows)]
    await tx.execute(insert(Event), numbered)
    return [row["seq"] for row in numbered]


async def sequence(tx: Tx, org_id: uuid.UUID) -> EventSequence | None:
    return await tx.scalar(select(EventSequence).where(EventSequence.org_id == org_id))


async def page_after(tx: Tx, org_id: uuid.UUID, after: int, limit: int) -> list[Event]:
    """The organisation's committed events numbered after ``after``, oldest first."""
    stmt = select(Event).where(Event.org_id == org_id, Event.seq > after).order_by(Event.seq).limit(limit)
    return list(await tx.scalars(stmt))


async def prunable(tx: Tx, before: dt.datetime) -> list[tuple[uuid.UUID, int]]:
    """Per organisation, the newest number among its events older than ``before``."""
    rows = await tx.execute(
        select(Event.org_id, func.max(Event.seq)).where(Event.occurred_at < before).group_by(Event.org_id)
    )
    return [(org_id, int(seq)) for org_id, seq in rows]


async def prune_through(tx: Tx, org_id: uuid.UUID, seq: int) -> int:
    """Delete the organisation's events up to ``seq`` (a prefix of its feed, whatever their times) and remember
    it; how many were deleted."""
    await tx.execute(
        update(EventSequence)
        .where(EventSequence.org_id == org_id, EventSequence.pruned_through < seq)
        .values(pruned_through=seq)
    )
    return affected(await tx.execute(delete(Event).where(Event.org_id == org_id, Event.seq <= seq)))


# ------------------------------------------------------------------------------------------------- webhooks

WORKER_LOST = (
    "worker lost: no outcome was recorded before the attempt's lease ran out (its worker stopped or was "
    "killed); the receiver may have got the request"
)


async def active_endpoints(tx: Tx, org_id: uuid.UUID) -> list[WebhookEndpoint]:
    return list(
        await tx.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.active.is_(True))
        )
    )


async def add_deliveries(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await tx.execute(insert(WebhookDelivery), list(rows))


async def get_endpoint(
    tx: Tx, org_id: uuid.UUID, endpoint_id: uuid.UUID, *, for_update: bool = False
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.id == endpoint_id)
    return await tx.scalar(stmt.with_for_update() if for_update else stmt)


async def page_endpoints(tx: Tx, page: PageRequest, cursors: CursorCodec) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == page.org_id)
    return await fetch_page(tx, stmt, WebhookEndpoint.created_at, WebhookEndpoint.id, page, cursors)


async def delete_endpoint(tx: Tx, endpoint: WebhookEndpoint) -> None:
    deliveries = select(WebhookDelivery.id).where(
        WebhookDelivery.org_id == endpoint.org_id, WebhookDelivery.endpoint_id == endpoint.id
    )
    await tx.execute(
        delete(WebhookDeliveryAttempt).where(
            WebhookDeliveryAttempt.org_id == endpoint.org_id, WebhookDeliveryAttempt.delivery_id.in_(deliveries)
        )
    )
    await tx.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.org_id == endpoint.org_id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    await tx.delete(endpoint)
    await tx.flush()


async def page_deliveries(
    tx: Tx, page: PageRequest, cursors: CursorCodec, endpoint_id: uuid.UUID
) -> Page[WebhookDelivery]:
    """Newest first."""
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.org_id == page.org_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    return await fetch_page(tx, stmt, WebhookDelivery.created_at, WebhookDelivery.id, page, cursors, descending=True)


async def get_delivery(
    tx: Tx, org_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.org_id == org_id,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.id == delivery_id,
    )
    return await tx.scalar(stmt.with_for_update() if for_update else stmt)


async def page_attempts(
    tx: Tx, page: PageRequest, cursors: CursorCodec, delivery_id: uuid.UUID
) -> Page[WebhookDeliveryAttempt]:
    """Newest first. (Attempts of a delivery start seconds apart at least, so their start order is their
    numbers' order.)"""
    stmt = select(WebhookDeliveryAttempt).where(
        WebhookDeliveryAttempt.org_id == page.org_id, WebhookDeliveryAttempt.delivery_id == delivery_id
    )
    return await fetch_page(
        tx,
        stmt,
        WebhookDeliveryAttempt.started_at,
        WebhookDeliveryAttempt.id,
        page,
        cursors,
        descending=True,
    )


async def claim_due(
    tx: Tx, now: dt.datetime, lease_until: dt.datetime, limit: int
) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Take up to ``limit`` due deliveries of active endpoints: each gets its next attempt number, logged as
    started ``now``, and is leased until ``lease_until`` (due again then, should its worker die). An attempt
    of theirs still without an outcome was lost with its worker: it is logged as such. Rows other workers are
    claiming right now are skipped (PostgreSQL's ``FOR UPDATE SKIP LOCKED``; SQLite has one writer at a
    time)."""
    due = list(
        await tx.scalars(
            select(WebhookDelivery)
            .join(
                WebhookEndpoint,
                (WebhookEndpoint.org_id == WebhookDelivery.org_id)
                & (WebhookEndpoint.id == WebhookDelivery.endpoint_id),
            )
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if not due:
        return []
    await tx.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([d.id for d in due]))
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    if reclaimed := [d.id for d in due if d.attempts]:
        await tx.execute(
            update(WebhookDeliveryAttempt)
            .where(WebhookDeliveryAttempt.delivery_id.in_(reclaimed), WebhookDeliveryAttempt.next_action.is_(None))
            .values(error=WORKER_LOST, next_action="retry", retry_at=now)
            .execution_options(synchronize_session=False)
        )
    endpoints = {
        e.id: e
        for e in await tx.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_({d.endpoint_id for d in due})))
    }
    for delivery in due:
        delivery.attempts += 1
        delivery.next_attempt_at = lease_until
    await tx.execute(
        insert(WebhookDeliveryAttempt),
        [
            {"id": new_id(), "org_id": d.org_id, "delivery_id": d.id, "attempt": d.attempts, "started_at": now}
            for d in due
        ],
    )
    return [(delivery, endpoints[delivery.endpoint_id]) for delivery in due]


async def finish_attempt(
    tx: Tx, delivery_id: uuid.UUID, attempt: int, values: dict[str, Any], logged: dict[str, Any]
) -> bool:
    """Record the outcome of attempt ``attempt`` on the delivery (``values``) and in its log (``logged``),
    unless the delivery moved on meanwhile (its lease ran out and another worker took it: the attempt is
    logged as lost then); whether it was recorded."""
    done = await tx.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if affected(done) != 1:
        return False
    await tx.execute(
        update(WebhookDeliveryAttempt)
        .where(WebhookDeliveryAttempt.delivery_id == delivery_id, WebhookDeliveryAttempt.attempt == attempt)
        .values(**logged)
        .execution_options(synchronize_session=False)
    )
    return True


async def disable_endpoint(tx: Tx, endpoint_id: uuid.UUID, reason: str, now: dt.datetime) -> None:
    await tx.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(
            active=False,
            disabled_reason=reason[:300],
            updated_at=now,
            version=WebhookEndpoint.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


async def prune_deliveries(tx: Tx, before: dt.datetime) -> int:
    """Delete the settled deliveries (succeeded or failed) made before ``before``, with their attempts; pending
    ones stay."""
    settled = (WebhookDelivery.state != "pending", WebhookDelivery.created_at < before)
    await tx.execute(
        delete(WebhookDeliveryAttempt).where(
            WebhookDeliveryAttempt.delivery_id.in_(select(WebhookDelivery.id).where(*settled))
        )
    )
    return affected(await tx.execute(delete(WebhookDelivery).where(*settled)))
