"""The three ways of appending to an organisation's audit chain produce the same chain, byte for byte.

The locked path (every change's events), and the read log's fast paths: on PostgreSQL one statement after the
head it appended last, on SQLite the locked path's statements on the driver's own connection. The same
events, appended in the same batches by any mix of paths, must leave exactly the rows a pure chaining of
them gives: every column, every ``prev_hash`` and every hash.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from supervise.audit import chain, repository
from supervise.audit.chain import COLUMNS, NewEvent
from supervise.audit.service import verify_chain
from supervise.audit.tables import AuditEvent
from supervise.config import Settings
from supervise.db import Database, InlineSqlite, asyncpg_dsn
from supervise.members.tables import Organisation

_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FFF), min_size=1, max_size=40)
_instants = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)


@st.composite
def events(draw: st.DrawFn) -> NewEvent:
    return NewEvent(
        id=uuid.UUID(int=0),  # set per example
        org_id=uuid.UUID(int=0),  # set per example
        created_at=draw(_instants),
        actor_member_id=draw(st.none() | st.uuids()),
        api_key_id=draw(st.none() | st.uuids()),
        action=draw(_text),
        resource_type=draw(_text),
        resource_id=draw(st.none() | st.uuids()),
        outcome=draw(st.sampled_from(["success", "denied"])),
        request_id=draw(st.none() | _text),
        source_address=draw(st.none() | st.sampled_from(["127.0.0.1", "::1", "203.0.113.9"])),
        count=draw(st.integers(min_value=1, max_value=2**31 - 1)),
    )


# Batches of events, each appended by one path: "locked", or the backend's fast path.
batches = st.lists(st.tuples(st.booleans(), st.lists(events(), min_size=1, max_size=6)), min_size=1, max_size=5)


def _row(event: NewEvent | AuditEvent) -> tuple[Any, ...]:
    return tuple(getattr(event, name) for name in COLUMNS)


async def _append_all(url: str, org: uuid.UUID, plan: list[tuple[bool, list[NewEvent]]]) -> list[AuditEvent]:
    database = Database(Settings(database_url=url, secret_key="x" * 40))
    pool: Any = None
    try:
        async with database.transaction() as tx:
            tx.add(Organisation(id=org, name="chain", created_at=dt.datetime.now(dt.UTC)))
        head: tuple[int, str] | None = None
        for fast, batch in plan:
            if not fast:
                async with database.engine.begin() as connection:
                    await repository.append(connection, org, batch)
            elif database.engine.dialect.name == "postgresql":
                if head is None:  # as the read log: the one-statement path needs the head it appended last
                    async with database.engine.begin() as connection:
                        await repository.append(connection, org, batch)
                else:
                    if pool is None:
                        import asyncpg

                        pool = await asyncpg.create_pool(asyncpg_dsn(database.settings.url), min_size=1, max_size=1)
                    assert await repository.append_after(pool, org, batch, head), "nothing else appends here"
            else:
                async with database.engine.connect() as connection:
                    driver = (await connection.get_raw_connection()).driver_connection
                    assert isinstance(driver, InlineSqlite)
                    repository.append_sqlite(driver.sqlite3, org, batch)
            head = (batch[-1].seq, batch[-1].hash)
        async with database.transaction() as tx:
            assert await verify_chain(tx, org) is None
            return list(await tx.scalars(select(AuditEvent).where(AuditEvent.org_id == org).order_by(AuditEvent.seq)))
    finally:
        if pool is not None:
            await pool.close()
        await database.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=batches)
def test_every_append_path_writes_the_same_chain(database_url: str, plan: list[tuple[bool, list[NewEvent]]]) -> None:
    org = uuid.uuid4()
    for _, batch in plan:
        for event in batch:
            event.org_id, event.id = org, uuid.uuid4()  # ids are unique across examples
    expected = copy.deepcopy([event for _, batch in plan for event in batch])
    chain.chain(expected, None)

    stored = asyncio.run(_append_all(database_url, org, copy.deepcopy(plan)))

    assert [_row(event) for event in stored] == [_row(event) for event in expected]
    assert [chain.event_hash(event) for event in stored] == [event.hash for event in expected]
