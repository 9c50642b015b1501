"""Engine, sessions and the declarative base shared by every domain's ``tables.py``.

SQLite gets WAL, ``synchronous=FULL``, foreign keys, a busy timeout and ``BEGIN IMMEDIATE`` on every
transaction, with one pooled connection per process (measured in ``bench/data_layer.py``: the same
throughput as a larger pool and no writer fighting for the lock). PostgreSQL uses asyncpg.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import aiosqlite
import uuid_utils.compat
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, DateTime, FromClause, Integer, MetaData, Result, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, SessionTransaction, declared_attr, mapped_column
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from supervise import metrics, problems
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.errors import DomainError, ServiceUnavailable

__all__ = [
    "WRITE_DEADLINE_SECONDS",
    "Base",
    "Database",
    "InlineSqlite",
    "Tx",
    "UTCDateTime",
    "Versioned",
    "affected",
    "alembic_config",
    "asyncpg_dsn",
    "guarded",
    "insert",
    "new_id",
    "save",
    "savepoint",
    "update",
]

Tx = AsyncSession
"""The transaction a request runs in. Services hold it and hand it to repositories; only repositories (and
the helpers below) run statements on it."""

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


WRITE_DEADLINE_SECONDS = 30.0
"""The longest a transaction that writes may run, from its first statement to its commit: one that took longer
is rolled back instead (503 ``write-too-slow``). A row's ``updated_at`` is stamped inside its transaction, so no
row commits more than this after the time it carries; that bound is what a client syncing with
``updated_since`` overlaps its polls by (README: "Syncing lists with updated_since")."""


class Session(SyncSession):
    """The session every transaction of :class:`Database` runs in: it notes when its transaction began and
    whether it stamped an ``updated_at`` (wrote a row of a table that has one: what lists sync by), and refuses
    to commit such a write older than :data:`WRITE_DEADLINE_SECONDS`. Other writes (the audit chain, an archive,
    a prune) have no deadline."""


def _stamps(table: Any) -> bool:
    columns = getattr(table, "c", None)
    return columns is not None and "updated_at" in columns


@event.listens_for(Session, "after_begin")
def _began(session: SyncSession, transaction: SessionTransaction, _connection: Connection) -> None:
    if transaction.parent is None:
        session.info.setdefault("began", time.monotonic())


@event.listens_for(Session, "after_transaction_end")
def _ended(session: SyncSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop("began", None)
        session.info.pop("wrote", None)


@event.listens_for(Session, "after_flush")
def _flushed(session: SyncSession, _context: Any) -> None:
    if any(_stamps(getattr(row, "__table__", None)) for row in (*session.new, *session.dirty, *session.deleted)):
        session.info["wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _stamps(getattr(state.statement, "table", None)):
        state.session.info.setdefault("began", time.monotonic())  # a first statement runs before after_begin
        state.session.info["wrote"] = True


@event.listens_for(Session, "before_commit")
def _committing(session: SyncSession) -> None:
    if session.in_nested_transaction() or not session.info.get("wrote"):
        return
    took = time.monotonic() - session.info.get("began", time.monotonic())
    if took > WRITE_DEADLINE_SECONDS:
        raise ServiceUnavailable(
            f"The write took {took:.0f} s, more than the {WRITE_DEADLINE_SECONDS:.0f} s a write may take, and was "
            "rolled back: nothing was changed. Retry.",
            problems.WRITE_TOO_SLOW,
        )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


async def insert(tx: Tx, *rows: Base, conflict: DomainError) -> None:
    """Add ``rows`` and write them now, so that a unique constraint answers ``conflict`` (a 409) in this
    request, rather than failing the commit after the answer was decided."""
    tx.add_all(rows)
    try:
        await tx.flush()
    except IntegrityError:
        raise conflict from None


async def save(tx: Tx, *, stale: DomainError | None = None, conflict: DomainError | None = None) -> None:
    """Write the changes made to loaded rows now. A versioned row (``version_id_col``) that another writer
    changed since it was read writes nothing and raises ``stale``; a unique constraint raises ``conflict``."""
    try:
        await tx.flush()
    except StaleDataError:
        if stale is None:
            raise
        raise stale from None
    except IntegrityError:
        if conflict is None:
            raise
        raise conflict from None


async def guarded(write: Awaitable[T], *, conflict: DomainError) -> T:
    """Await ``write``; a unique constraint it breaks (two writers racing for one row) raises ``conflict``."""
    try:
        return await write
    except IntegrityError:
        raise conflict from None


async def update(
    tx: Tx, row: Versioned, changes: Mapping[str, object], *, stale: DomainError, conflict: DomainError | None = None
) -> None:
    """Apply ``changes`` to a versioned row, stamp its ``updated_at``, and write it now (:func:`save`): the
    UPDATE carries ``WHERE version = <the version read>`` and takes the next version."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    await save(tx, stale=stale, conflict=conflict)


def savepoint(tx: Tx) -> AsyncSessionTransaction:
    """``async with savepoint(tx):`` a SAVEPOINT in the request's transaction: what the block wrote is released
    into the transaction, or rolled back alone if it raises, leaving the rest of the transaction intact (the
    items of a batch). Rows the block changed are expired when it rolls back: do not read them after."""
    return tx.begin_nested()


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (``Result`` has no ``rowcount`` in its types; the cursor
    result behind it has)."""
    return cast("CursorResult[Any]", result).rowcount


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so primary-key indexes stay append-mostly."""
    return uuid_utils.compat.uuid7()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored as UTC and returned timezone-aware on both databases.

    SQLite keeps naive ISO strings; storing UTC without offset keeps their ordering correct for keyset
    pagination.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime(timezone=False))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Versioned:
    """A row changed under ``If-Match``: its ``version`` is its ETag, and every UPDATE of it carries ``WHERE
    version = <the version read>`` and takes the next one (SQLAlchemy's ``version_id_col``), so of two writers
    holding one ETag exactly one wins (:func:`update`)."""

    __table__: ClassVar[FromClause]

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


def asyncpg_dsn(url: str) -> str:
    """A PostgreSQL database URL as asyncpg takes it, for the connections kept outside the engine's pool."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL (``None``: another database, or SQLite in memory)."""
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    return database if database and database != ":memory:" else None


def create_private(path: str) -> None:
    """Create the SQLite database file, if it does not exist, readable by its owner only (0600, like its
    secret): it holds health data. SQLite gives its ``-wal`` and ``-shm`` files the same permissions. An
    existing file keeps the permissions its operator gave it. Whatever opens the database first (the
    migrations, or the application) calls this before connecting."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _migrations_dir() -> Path:
    packaged = Path(__file__).parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_migrations_dir()))
    cfg.attributes["database_url"] = settings.url
    return cfg


class InlineSqlite(aiosqlite.Connection):
    """aiosqlite without its worker thread: each statement runs on the event loop.

    aiosqlite hands every statement to a thread and back (about 0.5 ms each, measured in
    ``bench/data_layer.py``) while SQLite itself answers our small indexed queries in microseconds. With one
    connection per process every statement is serialised anyway, so the hand-off only adds latency.
    """

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def sqlite3(self) -> sqlite3.Connection:
        """The connection itself, for a caller that runs several statements with nothing to await between."""
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _inline_sqlite(path: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    async def connect() -> aiosqlite.Connection:
        return await InlineSqlite(lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False), 64)

    return connect


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (below) instead of pysqlite's deferred BEGIN.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails with "database is locked" when another
        # process wrote meanwhile; taking the write lock up front makes writers queue instead.
        driver = connection.connection.driver_connection
        if isinstance(driver, InlineSqlite):  # straight to the connection: the engine's statement path per
            driver.sqlite3.execute("BEGIN IMMEDIATE")  # request cost more than the BEGIN itself
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_reader(url: str, database: str) -> AsyncEngine:
    """An engine of read-only connections to a SQLite file, each opened for one snapshot and closed after."""
    engine = create_async_engine(url, poolclass=NullPool, async_creator=_inline_sqlite(database))

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("query_only=ON", "foreign_keys=ON", "busy_timeout=10000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert isinstance(driver, InlineSqlite)
        driver.sqlite3.execute("BEGIN")  # deferred: a reader's snapshot, taken at its first statement

    return engine


def _checked_out(*_: object) -> None:
    metrics.connections_in_use.inc()


def _checked_in(*_: object) -> None:
    metrics.connections_in_use.dec()


class Database:
    """The engine and a session factory; one per application."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.url
        if settings.is_sqlite:
            database = sqlite_file(url)
            if database is not None:
                create_private(database)
                pool_size = settings.database_pool_size or 1
                self.engine = create_async_engine(
                    url,
                    pool_size=pool_size,
                    max_overflow=0,
                    pool_timeout=30,
                    async_creator=_inline_sqlite(database),
                )
            else:
                self.engine = create_async_engine(url)
            _configure_sqlite(self.engine)
        else:
            pool_size = settings.database_pool_size or 10
            self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, sync_session_class=Session
        )
        self._reader: AsyncEngine | None = None
        event.listen(self.engine.sync_engine.pool, "checkout", _checked_out)
        event.listen(self.engine.sync_engine.pool, "checkin", _checked_in)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session over one consistent snapshot, for a read longer than a request (a streamed
        export): every statement in it sees the database as it was at its first, whatever commits meanwhile.

        PostgreSQL: a ``REPEATABLE READ READ ONLY`` transaction on a pooled connection. A SQLite file: a
        connection of its own, outside the one-connection pool, in a deferred (read) transaction, so that
        under WAL it neither holds the write lock (every pooled transaction is ``BEGIN IMMEDIATE``) nor keeps
        the pool's connection from other requests between its statements."""
        if self.settings.is_sqlite:
            database = sqlite_file(self.settings.url)
            if database is None:  # in memory: the pool's one database
                async with self.transaction() as session:
                    yield session
                return
            if self._reader is None:
                self._reader = _sqlite_reader(self.settings.url, database)
            engine = self._reader
        else:
            engine = self.engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with AsyncSession(engine, expire_on_commit=False, autoflush=False) as session, session.begin():
            yield session

    async def schema_revision(self) -> str | None:
        async with self.engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.settings)).get_current_head()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            await self._reader.dispose()
