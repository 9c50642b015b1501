"""What the command groups share (``supervise.cli`` and the domains' own groups, such as
``supervise.rubrics.commands``): settings from the environment, checked up front, and a schema at head."""

from __future__ import annotations

import asyncio

import click
from alembic import command

from supervise.config import ConfigError, Settings
from supervise.db import Database, alembic_config

__all__ = ["ensure_schema", "env_settings", "revisions"]


def env_settings() -> Settings:
    """The ``SUPERVISE_*`` settings, or the command fails with what is wrong in them."""
    try:
        settings = Settings.from_env()
        settings.server_secret()
        settings.proxies  # noqa: B018  (checked here, so a typo fails every command, not a request)
        settings.origins  # noqa: B018
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


async def revisions(settings: Settings) -> tuple[str | None, str | None]:
    """The database's schema revision, and the newest one this version knows."""
    db = Database(settings)
    try:
        return await db.schema_revision(), db.head_revision()
    finally:
        await db.dispose()


def ensure_schema(settings: Settings) -> None:
    """SQLite (the embedded default) is brought to head; PostgreSQL must already be there."""
    if settings.is_sqlite:
        command.upgrade(alembic_config(settings), "head")
        return
    try:
        current, head = asyncio.run(revisions(settings))
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from None
    if current != head:
        raise click.ClickException(
            f"the database schema is at {current or 'nothing'}, this version needs {head}: "
            "run 'supervise db upgrade' first (once, from one machine)"
        )
