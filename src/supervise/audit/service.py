"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Table, insert, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from supervise import cache
from supervise.audit import repository
from supervise.audit.tables import AuditEvent
from supervise.auth.principal import Principal
from supervise.db import Database, InlineSqlite, asyncpg_dsn, new_id, utcnow
from supervise.errors import ServiceUnavailable
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = [
    "GENESIS_HASH",
    "ChainBreak",
    "NewEvent",
    "ReadLog",
    "event_hash",
    "list_events",
    "record",
    "record_read",
    "serialise",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_log = logging.getLogger(__name__)


def event_hash(event: AuditEvent | NewEvent) -> str:
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
) -> None:
    """Append one event for a change in the caller's transaction: it commits or rolls back with the change it
    records. A successful change also counts as one for the organisation's caches (:mod:`supervise.cache`)."""
    org = org_id or (principal.org_id if principal else None)
    if org is None:
        raise ValueError("an audit event needs an organisation")
    event = _event(principal, org, action, resource_type, resource_id, outcome, utcnow())
    await _append(tx, org, [event])
    if outcome == "success":
        await cache.bump(tx, org)


async def serialise(tx: AsyncSession, org_id: uuid.UUID) -> None:
    """Take the organisation's audit-chain lock now rather than at :func:`record`: a writer that then changes
    rows other writers also change (the rollups) takes its locks in the one order every writer uses — this
    lock first — so two such writers queue instead of deadlocking. Held until the transaction ends."""
    await repository.lock_chain(tx, org_id)


def record_read(
    tx: AsyncSession, principal: Principal, action: str, resource_type: str, resource_id: uuid.UUID | None
) -> None:
    """Note a read to be audited. The event is written after the request's transaction commits and before its
    answer leaves, together with the reads of concurrent requests (:class:`ReadLog`): one commit for many
    reads instead of one each. A request that fails writes none, as it released nothing."""
    event = _event(principal, principal.org_id, action, resource_type, resource_id, "success", utcnow())
    tx.info.setdefault(_READS, []).append(event)


_READS = "supervise.audit.reads"


@dataclass(slots=True)
class NewEvent:
    """An event not yet chained: ``seq``, ``prev_hash`` and ``hash`` are set when it is appended."""

    id: uuid.UUID
    org_id: uuid.UUID
    created_at: dt.datetime
    actor_member_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    outcome: str
    request_id: str | None
    source_address: str | None
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


def _event(
    principal: Principal | None,
    org: uuid.UUID,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    outcome: str,
    at: dt.datetime,
) -> NewEvent:
    return NewEvent(
        id=new_id(),
        org_id=org,
        created_at=at,
        actor_member_id=principal.member_id if principal else None,
        api_key_id=principal.api_key_id if principal else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        request_id=principal.request_id if principal else None,
        source_address=principal.source_address if principal else None,
    )


_TABLE = cast("Table", AuditEvent.__table__)
_EVENTS = _TABLE.c
_COLUMNS = [c.key for c in _TABLE.columns]


async def _append(tx: repository.Executor, org: uuid.UUID, events: list[NewEvent]) -> None:
    """Chain ``events`` (all of ``org``) onto the organisation's log, under its lock, in one statement."""
    await repository.lock_chain(tx, org)
    _chain(events, await repository.chain_head(tx, org))
    rows = [{name: getattr(event, name) for name in _COLUMNS} for event in events]
    await tx.execute(insert(_TABLE), rows)  # the table, not the entity: no ORM bulk machinery


def _chain(events: list[NewEvent], head: tuple[int, str] | None) -> None:
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    for event in events:
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = event_hash(event)
        seq, prev_hash = seq + 1, event.hash


_ARRAYS = [name for name in _COLUMNS if name != "org_id"]
_PG_ARRAY_TYPES = {"Uuid": "uuid[]", "BigInteger": "bigint[]", "UTCDateTime": "timestamptz[]", "String": "text[]"}
_APPEND_AFTER = (  # names and types from the table definition; every value bound
    f"""INSERT INTO audit_events (org_id, {", ".join(_ARRAYS)})
    SELECT $1, e.* FROM unnest({
        ", ".join(f"${i}::{_PG_ARRAY_TYPES[type(_EVENTS[name].type).__name__]}" for i, name in enumerate(_ARRAYS, 4))
    }) AS e({", ".join(_ARRAYS)})
    WHERE (SELECT pg_try_advisory_xact_lock($2))
      AND (SELECT max(seq) FROM audit_events WHERE org_id = $1) = $3"""  # noqa: S608
)
"""PostgreSQL: the events as one array per column, so the statement (prepared once) is the same whatever
their number. Both conditions are sub-selects on purpose: each is then evaluated once, before any row (a
"one-time filter"), where a bare function call would be evaluated per row and could let the rows after a
failed try-lock in."""
_PG_TIMEOUT = 5.0


async def _append_after(pool: Any, org: uuid.UUID, events: list[NewEvent], head: tuple[int, str]) -> bool:
    """On PostgreSQL, chain ``events`` onto ``head`` if it is still the organisation's head, in one statement
    and one round trip (no BEGIN, no COMMIT, asyncpg without the ORM); False, and nothing written, if not.

    The statement inserts all its rows or none. It inserts only if the newest ``seq`` is still ``head``'s as
    of its snapshot, and the unique ``(org_id, seq)`` refuses its first row if an append committed after that
    snapshot. It takes the chain's lock first, or inserts nothing if a writer holds it: a writer that has read
    the head under that lock must never meet our rows at its ``seq``. The lock is held to the commit.
    """
    import asyncpg  # type: ignore[import-untyped]

    _chain(events, head)
    arrays = [[getattr(event, name) for event in events] for name in _ARRAYS]
    async with pool.acquire(timeout=_PG_TIMEOUT) as connection:
        try:
            status = await connection.execute(
                _APPEND_AFTER, org, repository.chain_lock_key(org), head[0], *arrays, timeout=_PG_TIMEOUT
            )
        except asyncpg.UniqueViolationError:
            return False
    if status == f"INSERT 0 {len(events)}":
        return True
    if status != "INSERT 0 0":  # cannot happen with the one-time filter; it would be a gap in the chain
        _log.critical("a one-statement append wrote part of its events (%s of %d)", status, len(events))
        raise RuntimeError(f"partial audit append: {status}")
    return False


def _append_sqlite(connection: sqlite3.Connection, org: uuid.UUID, events: list[NewEvent]) -> None:
    """On SQLite, :func:`_append` on the driver's connection itself: the same four statements (the write lock,
    the head, the insert, the commit) without the engine's work around each, which cost more than SQLite's own
    (``bench/README.md``). Nothing is awaited in between, so nothing else runs on the connection meanwhile."""
    binds = _sqlite_binds()
    connection.execute("BEGIN IMMEDIATE")
    try:
        head = connection.execute(_SQLITE_HEAD, (binds["org_id"](org),)).fetchone()
        _chain(events, (int(head[0]), str(head[1])) if head else None)
        rows = [tuple(bind(getattr(event, name)) for name, bind in binds.items()) for event in events]
        connection.executemany(_SQLITE_INSERT, rows)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


_SQLITE_HEAD = "SELECT seq, hash FROM audit_events WHERE org_id = ? ORDER BY seq DESC LIMIT 1"
_SQLITE_INSERT = f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"  # noqa: S608


@functools.cache
def _sqlite_binds() -> dict[str, Callable[[Any], Any]]:
    """Per column, how SQLAlchemy stores a value in SQLite (uuids as hex, times as ISO text in UTC)."""
    dialect = sqlite_dialect()
    binds: dict[str, Callable[[Any], Any]] = {}
    for name in _COLUMNS:
        column = _EVENTS.id if name == "org_id" else _EVENTS[name]  # a foreign key's type is its target's
        binds[name] = column.type._cached_bind_processor(dialect) or _same
    return binds


def _same(value: Any) -> Any:
    return value


async def _open_pool(dsn: str) -> Any:
    import asyncpg

    return await asyncpg.create_pool(dsn, min_size=1, max_size=4, timeout=_PG_TIMEOUT, reset=_no_reset)


async def _no_reset(_: Any) -> None:
    """The pool's connections run single autocommit statements: nothing to reset between uses (asyncpg's
    default reset is a round trip per release)."""


class ReadLog:
    """Group commit of read events, one per application.

    :meth:`write` is called once a request's transaction has committed, before its answer is sent. Events of
    requests that arrive while a commit is under way wait for it and go together in the next one, so under
    load a commit carries many reads, while a lone request waits for one commit only. The answer leaves only
    once its read is durable: if the commit fails, the request fails (503) and nothing was disclosed.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._heads: dict[uuid.UUID, tuple[int, str]] = {}
        self._pool: asyncio.Task[Any] | None = None  # PostgreSQL: a small asyncpg pool for the one-statement path
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[list[NewEvent], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, tx: AsyncSession) -> None:
        events: list[NewEvent] | None = tx.info.pop(_READS, None)
        if not events:
            return
        assert len({event.org_id for event in events}) == 1, "a request reads within one organisation"
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((events, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # let the requests that are ready join this commit
            batch, self._waiting = self._waiting, []
            by_org: dict[uuid.UUID, list[tuple[list[NewEvent], asyncio.Future[None]]]] = {}
            for events, done in batch:
                by_org.setdefault(events[0].org_id, []).append((events, done))
            try:
                # One transaction per organisation, side by side: one organisation's busy chain holds up no other.
                await asyncio.gather(*(self._commit(org, waiters) for org, waiters in by_org.items()))
            finally:  # cancelled (shutdown): no request may wait for ever, nor be answered unaudited
                for _, done in batch:
                    _fail(done)

    async def _commit(self, org: uuid.UUID, waiters: list[tuple[list[NewEvent], asyncio.Future[None]]]) -> None:
        chained = [event for events, _ in waiters for event in events]
        head = self._heads.pop(org, None)
        try:
            if self._db.engine.dialect.name == "postgresql":
                # This worker's last append is usually still the head (reads outnumber changes): one round trip.
                if head is None or not await self._append_after(org, chained, head):
                    async with self._db.engine.begin() as connection:  # Core only: no session to set up
                        await _append(connection, org, chained)
                self._heads[org] = (chained[-1].seq, chained[-1].hash)
            else:
                async with self._db.engine.connect() as connection:
                    driver = (await connection.get_raw_connection()).driver_connection
                    if isinstance(driver, InlineSqlite):
                        _append_sqlite(driver.sqlite3, org, chained)
                    else:  # an in-memory database (tests): the statements through the engine
                        async with connection.begin():
                            await _append(connection, org, chained)
        except Exception:  # these waiters fail with their commit; the next ones get their own try
            _log.exception("a group commit of %d read events failed", sum(len(events) for events, _ in waiters))
            for _, done in waiters:
                _fail(done)
        else:
            for _, done in waiters:
                if not done.done():
                    done.set_result(None)

    async def _append_after(self, org: uuid.UUID, events: list[NewEvent], head: tuple[int, str]) -> bool:
        """The one-statement append; any failure of it (the pool, a timeout, the connection) means "take the
        locked path", which is safe even when the statement's outcome is unknown: the events keep their ids, so
        appending them again either succeeds or is refused by the primary key, never duplicated."""
        try:
            return await _append_after(await self._pg_pool(), org, events, head)
        except Exception:
            _log.warning("the one-statement append failed; appending under the lock", exc_info=True)
            return False

    async def _pg_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop or _failed(self._pool):
            dsn = asyncpg_dsn(self._db.settings.url)
            self._pool = loop.create_task(_open_pool(dsn))  # a task: the first requests arrive together
            self._pool_loop = loop
        return await asyncio.shield(self._pool)

    async def close(self) -> None:
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            if not self._pool.done():
                self._pool.cancel()
            elif not _failed(self._pool):
                await self._pool.result().close()
        self._pool = None


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _fail(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_exception(ServiceUnavailable("The read could not be audited; retry shortly."))
        done.exception()  # retrieved, so an abandoned waiter is not logged as lost


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
    stmt = repository.select_events(principal.org_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    result = await fetch_page(tx, stmt, AuditEvent.created_at, AuditEvent.id, page, cursors, descending=True)
    record_read(tx, principal, "audit_event.list", "audit_event", None)
    return result
