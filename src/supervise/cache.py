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
from supervise.db import Base

__all__ = ["GENERATION", "Generations", "LruCache", "OrgGeneration", "bump", "generation_of"]

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


def generation_of(tx: AsyncSession, org_id: uuid.UUID) -> int | None:
    """The counter this request read for ``org_id``, or ``None`` when nothing may be cached: nothing was read,
    or this transaction changed the organisation itself (what it computes is not committed yet)."""
    read = tx.info.get(GENERATION)
    if read is None or read[0] != org_id or tx.info.get(CHANGED):
        return None
    generation: int = read[1]
    return generation


_PG_READ = "SELECT generation FROM org_generations WHERE org_id = $1"
_PG_TIMEOUT = 2.0
"""Seconds; a counter that cannot be read in time means "do not cache", not a failed request."""


class Generations:
    """Reads the counter outside the ORM: a dedicated SQLite connection (WAL readers never wait for the writer),
    or a small asyncpg pool on PostgreSQL. ``None`` means "do not cache" (an in-memory database, or an error)."""

    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.url)
        self._sqlite_path = url.database if settings.is_sqlite and url.database not in (None, "", ":memory:") else None
        self._dsn = None if settings.is_sqlite else url.set(drivername="postgresql").render_as_string(False)
        self._sqlite: sqlite3.Connection | None = None
        self._pool: Any = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._pool_lock = asyncio.Lock()

    async def read(self, org_id: uuid.UUID) -> int | None:
        try:
            if self._sqlite_path is not None:
                if self._sqlite is None:
                    # A WAL reader never waits for the writer; the short timeout covers a checkpoint's instant.
                    self._sqlite = sqlite3.connect(
                        self._sqlite_path, isolation_level=None, check_same_thread=False, timeout=0.05
                    )
                row = self._sqlite.execute(
                    "SELECT generation FROM org_generations WHERE org_id = ?", (org_id.hex,)
                ).fetchone()
                return int(row[0]) if row else 0
            if self._dsn is not None:
                pool = await self._postgres_pool()
                async with pool.acquire(timeout=_PG_TIMEOUT) as connection:
                    value = await connection.fetchval(_PG_READ, org_id, timeout=_PG_TIMEOUT)
                return int(value) if value is not None else 0
        except (sqlite3.Error, OSError, ImportError, TimeoutError):
            return None  # nothing is cached for this request: it reads the database like any other
        except Exception as error:  # asyncpg's errors share no base class with the above
            if type(error).__module__.startswith("asyncpg"):
                return None
            raise
        return None

    async def _postgres_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        async with self._pool_lock:  # the first requests of a worker arrive together: one pool, not one each
            if self._pool is None or self._pool_loop is not loop:  # a pool serves the loop that made it
                import asyncpg  # type: ignore[import-untyped]

                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=2, timeout=_PG_TIMEOUT)
                self._pool_loop = loop
        return self._pool

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pool is not None:
            if self._pool_loop is asyncio.get_running_loop():
                await self._pool.close()
            self._pool = None


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
