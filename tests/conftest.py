"""Fixtures: every database test runs on SQLite and, when ``SUPERVISE_TEST_POSTGRES_URL`` is set, PostgreSQL.

Each backend gets a fresh database migrated to head once per session; tests isolate themselves by creating
their own organisations (every row belongs to one), which is also how the product isolates tenants.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from litestar import Litestar
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.config import Settings
from supervise.db import alembic_config
from tests.support import Api, Org, make_org

POSTGRES_URL = os.environ.get("SUPERVISE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
SECRET = "test-secret-key-" * 3


async def _admin_sql(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    assert POSTGRES_URL
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """A new, empty database of ``kind``; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'supervise.db'}"
        return
    assert POSTGRES_URL
    name = f"supervise_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_sql(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield Settings(database_url=f"{base}/{name}").url
    finally:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for url in fresh_database(backend, tmp_path_factory.mktemp(backend)):
        command.upgrade(alembic_config(Settings(database_url=url)), "head")
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient[Litestar], settings: Settings) -> Org:
    return make_org(client, settings)


@pytest.fixture
def other_org(client: TestClient[Litestar], settings: Settings) -> Org:
    return make_org(client, settings)


@pytest.fixture
def anonymous(client: TestClient[Litestar]) -> Api:
    return Api(client, None)
