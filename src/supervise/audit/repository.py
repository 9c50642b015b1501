"""Named queries over the audit log, and the three ways of appending to an organisation's chain.

- :func:`append`: under the chain's lock, through SQLAlchemy: every change's events, and the fallback of the
  other two.
- :func:`append_after` (PostgreSQL): one statement, no transaction, after the head the caller appended last.
- :func:`append_sqlite` (SQLite): the four statements of :func:`append` on the driver's own connection.

All three chain with :func:`supervise.audit.chain.chain` and write every column of the table; a property test
(``tests/audit/test_append_paths.py``) drives them with the same events and compares the chains byte for byte.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from sqlalchemy import Table, Uuid, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from supervise.audit import chain as chaining
from supervise.audit.chain import COLUMNS, NewEvent
from supervise.audit.tables import AuditCheckpoint, AuditEvent
from supervise.auth.tables import ApiKey
from supervise.members.tables import Organisation
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = [
    "APPEND_AFTER",
    "ARRAYS",
    "Executor",
    "add_checkpoint",
    "append",
    "append_after",
    "append_sqlite",
    "archivable",
    "chain_head",
    "chain_lock_key",
    "checkpoints",
    "delete_through",
    "lock_chain",
    "page_events",
    "stream_chain",
]

_log = logging.getLogger("supervise.audit")

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


_TABLE = cast("Table", AuditEvent.__table__)
_EVENTS = _TABLE.c
_HEAD = (
    select(_EVENTS.seq, _EVENTS.hash)
    .where(_EVENTS.org_id == bindparam("org", type_=Uuid()))
    .order_by(_EVENTS.seq.desc())
    .limit(1)
)


async def chain_head(tx: Executor, org_id: uuid.UUID) -> tuple[int, str] | None:
    row = (await tx.execute(_HEAD, {"org": org_id})).first()
    return (row.seq, row.hash) if row else None


async def append(tx: Executor, org: uuid.UUID, events: list[NewEvent]) -> None:
    """Chain ``events`` (all of ``org``) onto the organisation's log, under its lock, in one statement."""
    await lock_chain(tx, org)
    chaining.chain(events, await chain_head(tx, org))
    rows = [{name: getattr(event, name) for name in COLUMNS} for event in events]
    await tx.execute(insert(_TABLE), rows)  # the table, not the entity: no ORM bulk machinery


ARRAYS = [name for name in COLUMNS if name != "org_id"]
_PG_ARRAY_TYPES = {
    "Uuid": "uuid[]",
    "BigInteger": "bigint[]",
    "Integer": "integer[]",
    "UTCDateTime": "timestamptz[]",
    "String": "text[]",
}
APPEND_AFTER = (  # names and types from the table definition; every value bound
    f"""INSERT INTO audit_events (org_id, {", ".join(ARRAYS)})
    SELECT $1, e.* FROM unnest({
        ", ".join(f"${i}::{_PG_ARRAY_TYPES[type(_EVENTS[name].type).__name__]}" for i, name in enumerate(ARRAYS, 4))
    }) AS e({", ".join(ARRAYS)})
    WHERE (SELECT pg_try_advisory_xact_lock($2))
      AND (SELECT max(seq) FROM audit_events WHERE org_id = $1) = $3"""  # noqa: S608
)
"""PostgreSQL: the events as one array per column, so the statement (prepared once) is the same whatever
their number. Both conditions are sub-selects on purpose: each is then evaluated once, before any row (a
"one-time filter"), where a bare function call would be evaluated per row and could let the rows after a
failed try-lock in."""
PG_TIMEOUT = 5.0


async def append_after(pool: Any, org: uuid.UUID, events: list[NewEvent], head: tuple[int, str]) -> bool:
    """On PostgreSQL, chain ``events`` onto ``head`` if it is still the organisation's head, in one statement
    and one round trip (no BEGIN, no COMMIT, asyncpg without the ORM); False, and nothing written, if not.

    The statement inserts all its rows or none. It inserts only if the newest ``seq`` is still ``head``'s as
    of its snapshot, and the unique ``(org_id, seq)`` refuses its first row if an append committed after that
    snapshot. It takes the chain's lock first, or inserts nothing if a writer holds it: a writer that has read
    the head under that lock must never meet our rows at its ``seq``. The lock is held to the commit.
    """
    import asyncpg

    chaining.chain(events, head)
    arrays = [[getattr(event, name) for event in events] for name in ARRAYS]
    async with pool.acquire(timeout=PG_TIMEOUT) as connection:
        try:
            status = await connection.execute(
                APPEND_AFTER, org, chain_lock_key(org), head[0], *arrays, timeout=PG_TIMEOUT
            )
        except asyncpg.UniqueViolationError:
            return False
    if status == f"INSERT 0 {len(events)}":
        return True
    if status != "INSERT 0 0":  # cannot happen with the one-time filter; it would be a gap in the chain
        _log.critical("a one-statement append wrote part of its events (%s of %d)", status, len(events))
        raise RuntimeError(f"partial audit append: {status}")
    return False


def append_sqlite(connection: sqlite3.Connection, org: uuid.UUID, events: list[NewEvent]) -> None:
    """On SQLite, :func:`append` on the driver's connection itself: the same four statements (the write lock,
    the head, the insert, the commit) without the engine's work around each, which cost more than SQLite's own
    (``bench/README.md``). Nothing is awaited in between, so nothing else runs on the connection meanwhile."""
    binds = _sqlite_binds()
    connection.execute("BEGIN IMMEDIATE")
    try:
        head = connection.execute(_SQLITE_HEAD, (binds["org_id"](org),)).fetchone()
        chaining.chain(events, (int(head[0]), str(head[1])) if head else None)
        rows = [tuple(bind(getattr(event, name)) for name, bind in binds.items()) for event in events]
        connection.executemany(_SQLITE_INSERT, rows)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


_SQLITE_HEAD = "SELECT seq, hash FROM audit_events WHERE org_id = ? ORDER BY seq DESC LIMIT 1"
_SQLITE_INSERT = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608


@functools.cache
def _sqlite_binds() -> dict[str, Callable[[Any], Any]]:
    """Per column, how SQLAlchemy stores a value in SQLite (uuids as hex, times as ISO text in UTC)."""
    dialect = sqlite_dialect()
    binds: dict[str, Callable[[Any], Any]] = {}
    for name in COLUMNS:
        column = _EVENTS.id if name == "org_id" else _EVENTS[name]  # a foreign key's type is its target's
        binds[name] = column.type._cached_bind_processor(dialect) or _same
    return binds


def _same(value: Any) -> Any:
    return value


async def stream_chain(tx: AsyncSession, org_id: uuid.UUID, through: int | None = None) -> AsyncIterator[AuditEvent]:
    """An organisation's events in chain order (up to seq ``through``), as SQLAlchemy loads them."""
    stmt = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if through is not None:
        stmt = stmt.where(AuditEvent.seq <= through)
    async for event in await tx.stream_scalars(stmt.order_by(AuditEvent.seq)):
        yield event


async def archivable(tx: AsyncSession, org_id: uuid.UUID, before: dt.datetime) -> tuple[int, int, str] | None:
    """The oldest stored seq, and the seq and hash of the newest event older than ``before`` that is not the
    chain's head (the head stays, so that the numbering goes on); ``None`` when there is no such event."""
    mine = AuditEvent.org_id == org_id
    head = select(func.max(AuditEvent.seq)).where(mine).scalar_subquery()
    row = (
        await tx.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(mine, AuditEvent.created_at < before, AuditEvent.seq < head)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    first = await tx.scalar(select(func.min(AuditEvent.seq)).where(mine))
    assert first is not None
    return first, row.seq, row.hash


async def delete_through(tx: AsyncSession, org_id: uuid.UUID, seq: int) -> int:
    """Delete the organisation's events up to ``seq`` (the database refuses it unless a signed head is at or
    after ``seq`` and ``seq`` is not the chain's head); how many were deleted."""
    result = await tx.execute(delete(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.seq <= seq))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def page_events(
    tx: AsyncSession,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    action: str | None,
    resource_id: uuid.UUID | None,
) -> Page[AuditEvent]:
    """Newest first."""
    stmt = select(AuditEvent).where(AuditEvent.org_id == page.org_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    return await fetch_page(tx, stmt, AuditEvent.created_at, AuditEvent.id, page, cursors, descending=True)


async def key_makers(tx: AsyncSession, org_id: uuid.UUID, key_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Of these API keys, those made by someone other than their owner: key id -> its maker."""
    if not key_ids:
        return {}
    rows = await tx.execute(
        select(ApiKey.id, ApiKey.created_by).where(
            ApiKey.org_id == org_id,
            ApiKey.id.in_(key_ids),
            ApiKey.created_by.is_not(None),
            ApiKey.created_by != ApiKey.member_id,
        )
    )
    return {key_id: maker for key_id, maker in rows if maker is not None}


async def organisation_ids(tx: AsyncSession) -> list[uuid.UUID]:
    return list(await tx.scalars(select(Organisation.id).order_by(Organisation.created_at, Organisation.id)))


async def checkpoints(tx: AsyncSession, org_id: uuid.UUID) -> list[AuditCheckpoint]:
    """An organisation's signed heads, oldest first."""
    return list(
        await tx.scalars(select(AuditCheckpoint).where(AuditCheckpoint.org_id == org_id).order_by(AuditCheckpoint.seq))
    )


async def add_checkpoint(tx: AsyncSession, checkpoint: AuditCheckpoint) -> AuditCheckpoint:
    """Store a signed head; the one stored before if this head was signed before."""
    stored = await tx.get(AuditCheckpoint, (checkpoint.org_id, checkpoint.seq))
    if stored is not None:
        return stored
    tx.add(checkpoint)
    await tx.flush()
    return checkpoint
