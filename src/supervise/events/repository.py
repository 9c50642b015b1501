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

from supervise.db import Tx, affected
from supervise.events.tables import Event, EventSequence

__all__ = ["append", "page_after", "prunable", "prune_through", "sequence"]


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
