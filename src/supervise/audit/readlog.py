"""Group commit of read events: many concurrent reads, one commit (one statement on PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from supervise import metrics
from supervise.audit import repository
from supervise.audit.chain import NewEvent
from supervise.db import Database, InlineSqlite, Tx, asyncpg_dsn
from supervise.errors import ServiceUnavailable

__all__ = ["ReadLog", "note"]

_log = logging.getLogger("supervise.audit")

_READS = "supervise.audit.reads"


def note(tx: Tx, event: NewEvent) -> None:
    """Keep ``event`` with the request's transaction, for :meth:`ReadLog.write` once it has committed."""
    tx.info.setdefault(_READS, []).append(event)


async def _open_pool(dsn: str) -> Any:
    import asyncpg

    return await asyncpg.create_pool(dsn, min_size=1, max_size=4, timeout=repository.PG_TIMEOUT, reset=_no_reset)


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

    async def write(self, tx: Tx) -> None:
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
        metrics.read_group_size.observe(len(waiters))
        head = self._heads.pop(org, None)
        try:
            if self._db.engine.dialect.name == "postgresql":
                # This worker's last append is usually still the head (reads outnumber changes): one round trip.
                if head is None or not await self._append_after(org, chained, head):
                    async with self._db.engine.begin() as connection:  # Core only: no session to set up
                        await repository.append(connection, org, chained)
                self._heads[org] = (chained[-1].seq, chained[-1].hash)
            else:
                async with self._db.engine.connect() as connection:
                    driver = (await connection.get_raw_connection()).driver_connection
                    if isinstance(driver, InlineSqlite):
                        repository.append_sqlite(driver.sqlite3, org, chained)
                    else:  # an in-memory database (tests): the statements through the engine
                        async with connection.begin():
                            await repository.append(connection, org, chained)
        except Exception:
            if len(waiters) > 1:
                # One request's events must not fail another's read: each request again, on its own (nothing of
                # the failed group was stored, and the events are chained anew after the current head).
                _log.warning("a group commit of %d requests' reads failed; committing each alone", len(waiters))
                for waiter in waiters:
                    await self._commit(org, [waiter])
                return
            _log.exception("the audit of a request's %d read events failed", len(waiters[0][0]))
            _fail(waiters[0][1])
        else:
            for _, done in waiters:
                if not done.done():
                    done.set_result(None)

    async def _append_after(self, org: uuid.UUID, events: list[NewEvent], head: tuple[int, str]) -> bool:
        """The one-statement append; any failure of it (the pool, a timeout, the connection) means "take the
        locked path", which is safe even when the statement's outcome is unknown: the events keep their ids, so
        appending them again either succeeds or is refused by the primary key, never duplicated."""
        try:
            return await repository.append_after(await self._pg_pool(), org, events, head)
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
