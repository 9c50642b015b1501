"""Migrations: upgrade, downgrade and upgrade again on a fresh database, with no drift from the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from supervise.config import Settings
from supervise.db import Database, alembic_config
from tests.conftest import fresh_database


def test_upgrade_downgrade_upgrade_without_drift(backend: str, tmp_path: Path) -> None:
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url)
        cfg = alembic_config(settings)
        head = ScriptDirectory.from_config(cfg).get_current_head()

        command.upgrade(cfg, "head")
        command.check(cfg)  # raises when the models and the migrations disagree
        command.downgrade(cfg, "base")
        assert asyncio.run(_revision(settings)) is None
        command.upgrade(cfg, "head")
        command.check(cfg)
        assert asyncio.run(_revision(settings)) == head


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config(Settings()))
    assert len(script.get_heads()) == 1


async def _revision(settings: Settings) -> str | None:
    database = Database(settings)
    try:
        return await database.schema_revision()
    finally:
        await database.dispose()
