"""Answers kept in process memory, exact because they are checked against a per-organisation change counter.

Every change to an organisation's data appends an audit event, and :func:`supervise.audit.service.record` gives
the organisation's row in ``org_generations`` a new value in the same transaction. A request reads that value
once, on a connection of its own and without the ORM (microseconds on SQLite, one round trip on PostgreSQL),
and may then reuse anything computed under the same value: its caller's authentication and aggregate views.
Workers and processes share the counter through the database, so the next request after a commit, on any
worker, sees the change: no time-to-live to tune and no notification to miss. Reads never change it (their
audit events are written by :class:`supervise.audit.service.ReadLog`, which does not).

An answer is labelled with the value read *before* it was computed, so a change that commits meanwhile can
only make the next request recompute, never make a stale answer look current; and a transaction that itself
changed the organisation caches nothing (what it computed is not committed yet).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from supervise.config import Settings
from supervise.db import Base, asyncpg_dsn

__all__ = ["GENERATION", "Generations", "LruCache", "OrgGeneration", "bump", "generation_of", "note_generation"]

_log = logging.getLogger(__name__)

GENERATION = "supervise.generation"
"""``tx.info`` key: ``(org_id, counter)`` as read at the start of the request."""
CHANGED = "supervise.changed"
"""``tx.info`` key: set once the transaction has marked a change."""


class OrgGeneration(Base):
    """Changes with every change to an organisation's data: the validity of everything cached about it."""

    __tablename__ = "org_generations"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


async def bump(tx: AsyncSession, org_id: uuid.UUID) -> None:
    """Mark a change to ``org_id``'s data, in the changing transaction.

    The new value is random rather than the old one plus one: only equality is ever compared, and a counter
    that went back (a restored backup, a lost row) could otherwise meet labels of answers cached since."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if tx.get_bind().dialect.name == "postgresql" else sqlite
    stmt: Any = dialect.insert(OrgGeneration).values(org_id=org_id, generation=secrets.randbits(62) + 1)
    await tx.execute(
        stmt.on_conflict_do_update(index_elements=["org_id"], set_={"generation": stmt.excluded.generation})
    )
    tx.info[CHANGED] = True


def note_generation(tx: AsyncSession, org_id: uuid.UUID, generation: int) -> None:
    """Remember the counter this request read for ``org_id`` (see :func:`generation_of`)."""
    tx.info[GENERATION] = (org_id, generation)


def generation_of(tx: AsyncSession, org_id: uuid.UUID) -> int | None:
    """The counter this request read for ``org_id``, or ``None`` when nothing may be cached: nothing was read,
    or this transaction changed the organisation itself (what it computes is not committed yet)."""
    read = tx.info.get(GENERATION)
    if read is None or read[0] != org_id or tx.info.get(CHANGED):
        return None
    generation: int = read[1]
    return generation


_PG_READ = "SELECT org_id, generation FROM org_generations WHERE org_id = ANY($1::uuid[])"
_PG_TIMEOUT = 2.0
"""Seconds; a counter that cannot be read in time means "do not cache", not a failed request."""


class Generations:
    """Reads the counter outside the ORM: a dedicated SQLite connection (WAL readers never wait for the writer),
    or one dedicated asyncpg connection on PostgreSQL. ``None`` means "do not cache" (an in-memory database, or
    an error).

    On PostgreSQL, concurrent requests share reads the way the read log shares commits: a request that arrives
    while a read is under way waits for the *next* one, which starts after it arrived and so sees every commit
    its client could have seen; that read fetches the counters of every organisation then waiting, in one round
    trip. Under load that is one query per batch of requests instead of one (plus a pool's reset) each.
    """

    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.url)
        self._sqlite_path = url.database if settings.is_sqlite and url.database not in (None, "", ":memory:") else None
        self._dsn = None if settings.is_sqlite else asyncpg_dsn(settings.url)
        self._sqlite: sqlite3.Connection | None = None
        self._connection: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[uuid.UUID, list[asyncio.Future[int | None]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def read(self, org_id: uuid.UUID) -> int | None:
        if self._sqlite_path is not None:
            try:
                if self._sqlite is None:
                    # A WAL reader never waits for the writer; the short timeout covers a checkpoint's instant.
                    self._sqlite = sqlite3.connect(
                        self._sqlite_path, isolation_level=None, check_same_thread=False, timeout=0.05
                    )
                row = self._sqlite.execute(
                    "SELECT generation FROM org_generations WHERE org_id = ?", (org_id.hex,)
                ).fetchone()
            except sqlite3.Error:
                return None  # nothing is cached for this request: it reads the database like any other
            return int(row[0]) if row else 0
        if self._dsn is None:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a connection, like its waiters, serves the loop that made it
            self._connection, self._waiting, self._reader, self._loop = None, {}, None, loop
        done: asyncio.Future[int | None] = loop.create_future()  # one each: a cancelled waiter cancels only its own
        self._waiting.setdefault(org_id, []).append(done)
        if self._reader is None or self._reader.done():
            self._reader = loop.create_task(self._read_waiting())
        return await done

    async def _read_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            values: dict[uuid.UUID, int] | None = None
            try:
                values = await asyncio.wait_for(self._fetch(list(batch)), _PG_TIMEOUT)
            except Exception:  # the database is away, slow or refused us: this batch caches nothing
                _log.warning("reading the change counters failed; answering without the caches", exc_info=True)
                self._drop_connection()
            finally:  # also when cancelled: nobody waits for ever, and a failed read means "do not cache"
                for org_id, waiters in batch.items():
                    value = None if values is None else values.get(org_id, 0)
                    for done in waiters:
                        if not done.done():
                            done.set_result(value)

    async def _fetch(self, org_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        if self._connection is None:
            import asyncpg

            self._connection = await asyncpg.connect(self._dsn, timeout=_PG_TIMEOUT)
        rows = await self._connection.fetch(_PG_READ, org_ids)
        return {row[0]: int(row[1]) for row in rows}

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()  # mid-query after a timeout: not reusable, and close() could wait

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._reader is not None and self._loop is asyncio.get_running_loop():
            self._reader.cancel()  # a reader not started yet never reaches its finally: answer its waiters here
            for waiters in self._waiting.values():
                for done in waiters:
                    if not done.done():
                        done.set_result(None)
            self._waiting = {}
        if self._connection is not None:
            if self._loop is asyncio.get_running_loop():
                await self._connection.close(timeout=_PG_TIMEOUT)
            self._connection = None


class LruCache:
    """At most ``size`` entries, each labelled with its organisation's counter; the least recently used goes
    first. Single-threaded: one per worker, used from its event loop."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[uuid.UUID, int, Any]] = OrderedDict()

    def get(self, org_id: uuid.UUID, generation: int | None, key: Hashable) -> Any | None:
        """The value stored under ``key`` if it was computed under this counter of this organisation."""
        if generation is None:
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] != org_id or entry[1] != generation:
            return None
        self._entries.move_to_end(key)
        return entry[2]

    def peek(self, key: Hashable) -> tuple[uuid.UUID, int, Any] | None:
        """The entry under ``key`` whatever its counter: ``(org_id, generation, value)``."""
        return self._entries.get(key)

    def put(self, org_id: uuid.UUID, generation: int, key: Hashable, value: Any) -> None:
        self._entries[key] = (org_id, generation, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)
