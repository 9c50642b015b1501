"""``supervise rubrics check``: the installed definitions against the database's snapshots, field by field."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import msgspec.structs
from click.testing import CliRunner

from supervise.cli import main
from supervise.config import Settings
from supervise.db import Database, alembic_config
from supervise.rubrics.registry import Registry, load_registry
from supervise.rubrics.service import ensure_snapshot
from tests.conftest import SECRET, fresh_database


async def snapshot(url: str, registry: Registry, *idents: tuple[str, str]) -> None:
    database = Database(Settings(database_url=url))
    try:
        async with database.transaction() as tx:
            for ident in idents:
                await ensure_snapshot(tx, registry, registry.rubrics[ident])
    finally:
        await database.dispose()


def test_check_prints_each_changed_field_and_fails(backend: str, tmp_path: Path) -> None:
    from alembic import command

    for url in fresh_database(backend, tmp_path):
        command.upgrade(alembic_config(Settings(database_url=url)), "head")
        # the database snapshotted wai-sr 1.0 when its item 1 still went up to 9 (the plugin now says 7)
        earlier = load_registry()
        wai = earlier.rubrics[("wai-sr", "1.0")]
        first = wai.items[0]
        widened = msgspec.structs.replace(first, scale=msgspec.structs.replace(first.scale, max=9))
        earlier.rubrics[("wai-sr", "1.0")] = dataclasses.replace(wai, items=(widened, *wai.items[1:]))
        asyncio.run(snapshot(url, earlier, ("wai-sr", "1.0"), ("alliance", "1.0")))

        env = {"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
        result = CliRunner().invoke(main, ["rubrics", "check"], env=env)
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert lines[0] == "alliance 1.0  same as its snapshot (plugin 'alliance')"
        assert lines[1] == "wai-sr 1.0    CHANGED since reviews used it (plugin 'wai-sr'):"
        assert lines[2] == f"    items.item_01.scale.max: 9 → {first.scale.max}"
        assert "not used by any review yet (frozen at their first draft): " in result.output
        assert "1 definition(s) changed" in result.output

        # serve refuses with the same diff
        served = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
        assert served.exit_code == 1
        assert f"  wai-sr 1.0 (plugin 'wai-sr'):\n    items.item_01.scale.max: 9 → {first.scale.max}\n" in served.output
