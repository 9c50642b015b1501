"""``supervise rubrics ...``: the installed rubrics, their snapshots in the database, and releasing a version
only drafts use."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
import msgspec

from supervise.cli_common import ensure_schema, env_settings
from supervise.config import Settings
from supervise.db import Database
from supervise.rubrics.registry import Registry, RubricError, load_registry, version_key
from supervise.rubrics.release import NotReleasable, Usage, counted, plan, refusal, release, summary

__all__ = ["rubrics"]


@click.group()
def rubrics() -> None:
    """Installed rubric plugins, and the snapshots of the versions in use."""


def _registry() -> Registry:
    try:
        return load_registry(Settings.from_env().plugin_allow_list)
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None


@rubrics.command("list")
def list_rubrics() -> None:
    """Every installed rubric version, with the plugin that provides it."""
    registry = _registry()
    rows = [("KEY", "VERSION", "ITEMS", "PLUGIN", "TITLE")]
    for (key, version), rubric in sorted(registry.rubrics.items(), key=lambda kv: (kv[0][0], version_key(kv[0][1]))):
        rows.append((key, version, str(len(rubric.items)), registry.owners[(key, version)], rubric.title))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])


async def _check_snapshots(settings: Settings, registry: Registry) -> list[Any]:
    from supervise.rubrics.service import check_snapshots

    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await check_snapshots(tx, registry)
    finally:
        await database.dispose()


@rubrics.command("check")
def check_rubrics() -> None:
    """Compare the installed definitions with the database's snapshots of the versions reviews use: each
    changed one with a field-level diff (exit status 1, as 'serve' would refuse to start)."""
    settings = env_settings()
    ensure_schema(settings)
    registry = _registry()
    checks = asyncio.run(_check_snapshots(settings, registry))
    width = max((len(f"{c.key} {c.version}") for c in checks), default=0)
    for check in checks:
        name = f"{check.key} {check.version}".ljust(width)
        if check.state == "same":
            click.echo(f"{name}  same as its snapshot (plugin '{check.plugin}')")
        elif check.state == "not installed":
            click.echo(f"{name}  not installed: its reviews read the snapshot (was plugin '{check.plugin}')")
        else:
            click.echo(f"{name}  CHANGED since reviews used it (plugin '{check.plugin}'):")
            for line in check.diff:
                click.echo(f"    {line}")
    used = {(c.key, c.version) for c in checks}
    unused = sorted(f"{k} {v}" for k, v in registry.rubrics if (k, v) not in used)
    if unused:
        click.echo("not used by any review yet (frozen at their first draft): " + ", ".join(unused))
    changed = [c for c in checks if c.state == "changed"]
    if changed:
        raise click.ClickException(
            f"{len(changed)} definition(s) changed: restore them and publish the change under a new version, or "
            "release a version only drafts use ('supervise rubrics release KEY VERSION')"
        )


@rubrics.command("show")
@click.argument("key")
@click.option("--version", "version", help="A version other than the latest installed one.")
def show_rubric(key: str, version: str | None) -> None:
    """Print a rubric's full definition as JSON."""
    registry = _registry()
    rubric = registry.get(key, version) if version else registry.latest(key)
    if rubric is None:
        known = ", ".join(sorted({k for k, _ in registry.rubrics})) or "none"
        raise click.ClickException(f"no installed rubric {key} {version or ''}".strip() + f" (installed: {known})")
    document = msgspec.to_builtins(rubric.definition())
    document["checksum"] = rubric.checksum()
    document["plugin"] = registry.owners[(rubric.key, rubric.version)]
    click.echo(json.dumps(document, indent=2))


async def _plan(settings: Settings, key: str, version: str) -> Usage:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await plan(tx, key, version)
    finally:
        await database.dispose()


async def _release(settings: Settings, key: str, version: str) -> Usage:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await release(tx, key, version)
    finally:
        await database.dispose()


@rubrics.command("release")
@click.argument("key")
@click.argument("version")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def release_rubric(key: str, version: str, yes: bool) -> None:
    """Discard a version only drafts use, with its snapshot (during development).

    Every draft of KEY VERSION, in every organisation, is discarded with its snapshot, so that the next draft
    freezes the definition installed then. Refused (exit status 1, nothing changed) when anything
    but drafts uses the version: a submitted review or amendment, a client rating, a stored score, a review
    request that is not cancelled, a client form pending or used."""
    settings = env_settings()
    ensure_schema(settings)
    try:
        found = asyncio.run(_plan(settings, key, version))
        if found.blocked_by:
            raise NotReleasable(refusal(found))
        for line in summary(found):
            click.echo(line)
        if not yes:
            click.confirm(f"Release {key} {version}?", abort=True)
        done = asyncio.run(_release(settings, key, version))
    except NotReleasable as exc:
        raise click.ClickException(str(exc)) from None
    drafts = counted(done.draft_count, "draft", "drafts")
    organisations = counted(len(done.drafts), "organisation", "organisations")
    click.echo(f"released {key} {version}: {drafts} discarded in {organisations}, and its snapshot")
