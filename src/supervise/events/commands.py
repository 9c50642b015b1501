"""``supervise events``: keeping the outbox to its retention period."""

from __future__ import annotations

import asyncio
import datetime as dt

import click

from supervise.clock import utcnow
from supervise.config import ConfigError, Settings
from supervise.db import Database
from supervise.events import service

__all__ = ["commands"]


@click.group("events")
def commands() -> None:
    """The events outbox behind the change feed (/v1/events)."""


async def _prune(settings: Settings, before: dt.datetime) -> int:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await service.prune(tx, before)
    finally:
        await database.dispose()


@commands.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help="Days to keep; SUPERVISE_EVENT_RETENTION_DAYS (30) when left out.",
)
def prune(days: int | None) -> None:
    """Delete the events older than the retention period (run it daily, e.g. from cron). A feed cursor from
    before them is answered 410 from then on, so no client skips them unknowingly."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    kept = days or settings.event_retention_days
    pruned = asyncio.run(_prune(settings, utcnow() - dt.timedelta(days=kept)))
    click.echo(f"pruned {pruned} events older than {kept} days")
