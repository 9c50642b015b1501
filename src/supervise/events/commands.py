"""``supervise events``: keeping the outbox to its retention period."""

from __future__ import annotations

import asyncio
import datetime as dt

import click

from supervise.clock import utcnow
from supervise.config import ConfigError, Settings
from supervise.db import Database
from supervise.events import service
from supervise.events.delivery import Dispatcher

__all__ = ["commands", "worker"]


@click.group("events")
def commands() -> None:
    """The events outbox behind the change feed (/v1/events)."""


def _from_env() -> Settings:
    try:
        settings = Settings.from_env()
        settings.server_secret()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


async def _prune(settings: Settings, before: dt.datetime) -> tuple[int, int]:
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
    """Delete the events, and the settled webhook deliveries, older than the retention period (run it daily,
    e.g. from cron). A feed cursor from before them is answered 410 from then on, so no client skips them
    unknowingly."""
    settings = _from_env()
    kept = days or settings.event_retention_days
    events, deliveries = asyncio.run(_prune(settings, utcnow() - dt.timedelta(days=kept)))
    click.echo(f"pruned {events} events and {deliveries} settled webhook deliveries older than {kept} days")


async def _deliver(settings: Settings) -> None:
    import signal

    database = Database(settings)
    dispatcher = Dispatcher(database, settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    dispatcher.start()
    try:
        await stopping.wait()
    finally:
        await dispatcher.stop()  # the attempts under way finish; a killed worker's are retried after their lease
        await database.dispose()


@click.command("worker")
def worker() -> None:
    """Deliver webhooks (PostgreSQL): run any number beside any number of `serve` workers; each claims due
    deliveries with FOR UPDATE SKIP LOCKED. On SQLite `serve` delivers them itself."""
    settings = _from_env()
    if settings.is_sqlite:
        raise click.ClickException(
            "On SQLite 'supervise serve' delivers webhooks itself, in its one process; 'supervise worker' is for "
            "PostgreSQL (SUPERVISE_DATABASE_URL)."
        )
    click.echo("delivering webhooks; stop with SIGTERM or Ctrl-C", err=True)
    asyncio.run(_deliver(settings))
