"""Fixtures: every database test runs on SQLite and on PostgreSQL (``SUPERVISE_TEST_POSTGRES_URL``).

Without that variable the PostgreSQL runs are skipped, and the header and the summary say how many; under
``CI=true`` a missing PostgreSQL is an error, never a quieter run. ``@pytest.mark.backends("postgresql")``
keeps a test to the backends it is about.

Each backend gets a fresh database migrated to head once per session; tests isolate themselves by creating
their own organisations (every row belongs to one), which is also how the product isolates tenants.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from supervise.app import create_app
from supervise.config import Settings
from supervise.db import alembic_config
from tests.support import Api, Org, make_org

POSTGRES_URL = os.environ.get("SUPERVISE_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ("sqlite", "postgresql")
SECRET = "test-secret-key-" * 3
NOT_CONFIGURED = "PostgreSQL: not configured (set SUPERVISE_TEST_POSTGRES_URL)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these database backends")
    config.addinivalue_line("markers", "slow: starts real servers; a quick loop skips them with -m 'not slow'")
    if IN_CI and not POSTGRES_URL:
        raise pytest.UsageError("CI=true, but SUPERVISE_TEST_POSTGRES_URL is not set: CI runs every test on both")


def pytest_report_header(config: pytest.Config) -> str:
    if not POSTGRES_URL:
        return NOT_CONFIGURED + ": its tests are skipped"
    return f"PostgreSQL: {make_url(POSTGRES_URL).render_as_string(hide_password=True)}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = marker.args if marker else BACKENDS
        metafunc.parametrize("backend", names, indirect=True, scope="session")


ON_POSTGRESQL = pytest.StashKey[set[str]]()
"""The node ids of the collected tests that run on PostgreSQL."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL its tests are deselected (one line in the header counts them, rather than a skip line
    per test); with it, they are remembered for the summary."""
    on_postgresql = [
        item
        for item in items
        if isinstance(item, pytest.Function)
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("backend") == "postgresql"
    ]
    config.stash[ON_POSTGRESQL] = {item.nodeid for item in on_postgresql}
    if not POSTGRES_URL and on_postgresql:
        skipped = set(config.stash[ON_POSTGRESQL])
        items[:] = [item for item in items if item.nodeid not in skipped]
        config.hook.pytest_deselected(items=on_postgresql)


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> str:
    count = len(config.stash.get(ON_POSTGRESQL, set()))
    return f"PostgreSQL: {count} tests run on it" if POSTGRES_URL else f"{NOT_CONFIGURED}, {count} tests skipped"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say at the end, too, whether PostgreSQL ran: a green run on SQLite alone must not pass for both."""
    on_postgresql = config.stash.get(ON_POSTGRESQL, set())
    if not POSTGRES_URL:
        terminalreporter.write_line(f"{NOT_CONFIGURED}, {len(on_postgresql)} tests skipped")
        return
    outcomes = {
        outcome: sum(1 for report in terminalreporter.stats.get(outcome, []) if report.nodeid in on_postgresql)
        for outcome in ("passed", "failed", "skipped", "error")
    }
    summary = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items() if n) or "no tests ran"
    terminalreporter.write_line(f"PostgreSQL: {summary}")


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


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for url in fresh_database(backend, tmp_path_factory.mktemp(backend)):
        command.upgrade(alembic_config(Settings(database_url=url)), "head")
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Every in-process request of the session comes from one unknown address, and schemathesis sends thousands
    # a minute with one key: the limits are tested on their own (tests/test_throttle.py, with Redis across two
    # workers), not by the suite's own pace, which depends on how fast the machine is.
    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        rate_limit_per_key="1000000/minute",
        rate_limit_per_organisation="1000000/minute",
        rate_limit_per_address="1000000/minute",
        rate_limit_per_form_token="1000000/minute",
    )


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
