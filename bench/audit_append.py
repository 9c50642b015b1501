"""What the read log's fast paths save over the locked path, per group of audited reads, in process.

    uv run python bench/audit_append.py [--groups 2000] [--size 8] [--backends sqlite,postgresql]

Appends ``--groups`` groups of ``--size`` events to one organisation's chain, one group at a time, by the
locked path (lock, head, insert and commit through SQLAlchemy) and by the backend's fast path (SQLite: the
same statements on the driver's connection; PostgreSQL: one statement after the head appended last), the two
alternating in rounds so that the machine's drift falls on both. PostgreSQL: SUPERVISE_BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test; a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alembic import command  # noqa: E402

from supervise.audit import repository  # noqa: E402
from supervise.audit.chain import NewEvent, new_event  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.db import Database, InlineSqlite, alembic_config, asyncpg_dsn  # noqa: E402
from supervise.members.tables import Organisation  # noqa: E402

ROUNDS = 10


def group(org: uuid.UUID, size: int) -> list[NewEvent]:
    now = dt.datetime.now(dt.UTC)
    return [new_event(None, org, "member.read", "member", uuid.uuid4(), "success", now) for _ in range(size)]


async def run(url: str, groups: int, size: int) -> dict[str, float]:
    database = Database(Settings(database_url=url, secret_key="bench-" * 8))
    org = uuid.uuid4()
    pool: Any = None
    try:
        async with database.transaction() as tx:
            tx.add(Organisation(id=org, name="bench", created_at=dt.datetime.now(dt.UTC)))
        on_postgresql = database.engine.dialect.name == "postgresql"
        if on_postgresql:
            pool = await asyncpg.create_pool(asyncpg_dsn(database.settings.url), min_size=1, max_size=1)
        head: tuple[int, str] | None = None
        times: dict[str, list[float]] = {"locked": [], "fast": []}

        async def locked(events: list[NewEvent]) -> None:
            async with database.engine.begin() as connection:
                await repository.append(connection, org, events)

        async def fast(events: list[NewEvent]) -> None:
            if on_postgresql:
                assert head is not None and await repository.append_after(pool, org, events, head)
                return
            async with database.engine.connect() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                assert isinstance(driver, InlineSqlite)
                repository.append_sqlite(driver.sqlite3, org, events)

        await locked(first := group(org, size))
        head = (first[-1].seq, first[-1].hash)
        for _ in range(ROUNDS):
            for name, append in (("locked", locked), ("fast", fast)):
                batches = [group(org, size) for _ in range(groups // ROUNDS)]
                started = time.perf_counter()
                for events in batches:
                    await append(events)
                    head = (events[-1].seq, events[-1].hash)
                times[name].append((time.perf_counter() - started) / len(batches) * 1e6)
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        if pool is not None:
            await pool.close()
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"groups={args.groups} size={args.size}: microseconds per group, median of {ROUNDS} rounds")
    for backend in args.backends.split(","):
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/audit.db"
            command.upgrade(alembic_config(Settings(database_url=url)), "head")
            result = asyncio.run(run(url, args.groups, args.size))
        else:
            base = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
            name = f"supervise_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
            try:
                url = Settings(database_url=base.rsplit("/", 1)[0] + f"/{name}").url
                command.upgrade(alembic_config(Settings(database_url=url)), "head")
                result = asyncio.run(run(url, args.groups, args.size))
            finally:
                asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        ratio = result["fast"] / result["locked"]
        print(f"{backend:10}  locked {result['locked']:8.0f}   fast {result['fast']:8.0f}   fast/locked {ratio:.2f}")


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
