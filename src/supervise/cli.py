"""The ``supervise`` command: serve, db, audit, orgs, rubrics, plugins, openapi."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import msgspec
from alembic import command

from supervise.cli_common import ensure_schema, env_settings, revisions
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database, alembic_config
from supervise.events.commands import commands as event_commands
from supervise.events.commands import worker
from supervise.logs import server_logging
from supervise.plugins import commands as plugin_commands
from supervise.rubrics.commands import rubrics
from supervise.rubrics.registry import RubricError, load_registry
from supervise.rubrics.service import verify_snapshots

__all__ = ["ensure_schema", "main", "openapi_document"]


@click.group()
def main() -> None:
    """supervise: review recorded therapy sessions and score the therapeutic alliance."""


def _check_rubrics(settings: Settings) -> None:
    """Refuse to start, with the plugin's name, on a broken plugin or a changed rubric definition."""

    async def verify() -> None:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                await verify_snapshots(tx, load_registry(settings.plugin_allow_list))
        finally:
            await database.dispose()

    try:
        asyncio.run(verify())
    except RubricError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Run the API (uvicorn)."""
    import uvicorn

    settings = env_settings()
    if settings.is_sqlite and workers > 1 and not reload:
        raise click.ClickException(
            "SQLite serves one worker: each worker would run its statements on its own event loop and wait there "
            "for the others' write lock. Serve one worker on SQLite, or use PostgreSQL (SUPERVISE_DATABASE_URL) "
            "for several."
        )
    if workers > 1 and not reload and not settings.redis_url:
        raise click.ClickException(
            "Several workers need SUPERVISE_REDIS_URL: the rate limits are counted in Redis so that all workers "
            "count against the same limit. Set it (for example redis://127.0.0.1:6379/0), or serve one worker."
        )
    ensure_schema(settings)
    _check_rubrics(settings)
    if workers > 1 and not reload:
        _share_metrics()
    uvicorn.run(
        "supervise.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        proxy_headers=bool(settings.proxies),  # X-Forwarded-For only from SUPERVISE_TRUSTED_PROXIES
        forwarded_allow_ips=settings.proxies,
        server_header=False,
        http="supervise.server:BoundedHttpToolsProtocol",  # request heads bounded (431)
        log_config=server_logging(),  # JSON lines, like the application's
    )


def _share_metrics() -> None:
    """Several workers write their metrics to one directory, and the worker that answers a scrape sums them
    (prometheus-client's multiprocess mode): ``PROMETHEUS_MULTIPROC_DIR`` if set (emptied now, as
    prometheus-client requires at each start), else a fresh temporary directory."""
    import shutil
    import tempfile

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, mode=0o700)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="supervise-metrics-")


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema (to head by default)."""
    command.upgrade(alembic_config(env_settings()), revision)


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (e.g. -1, or base)."""
    command.downgrade(alembic_config(env_settings()), revision)


@db.command()
def current() -> None:
    """Print the schema's revision and the newest one this version knows."""
    current_rev, head = asyncio.run(revisions(env_settings()))
    click.echo(f"current: {current_rev or 'none'}")
    click.echo(f"head:    {head}")


async def _verify_rollups(settings: Settings) -> tuple[int, list[str]]:
    from supervise.scores.service import score_count, verify

    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await score_count(tx), [str(m) for m in await verify(tx)]
    finally:
        await database.dispose()


@db.command("verify-rollups")
def verify_rollups() -> None:
    """Check every aggregate rollup against a full recomputation from the stored scores (exit 1 on a
    difference)."""
    scores, mismatches = asyncio.run(_verify_rollups(env_settings()))
    for mismatch in mismatches[:50]:
        click.echo(mismatch)
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} rollup rows differ from a recomputation over {scores} scores.")
    click.echo(f"rollups match a recomputation over {scores} scores")


@main.group()
def audit() -> None:
    """The audit log."""


async def _chosen(tx: Any, org: uuid.UUID | None) -> list[uuid.UUID]:
    """Every organisation's id, or only ``org`` (which must exist): the chains an audit command works on."""
    from supervise.audit import service as audit_log

    orgs = await audit_log.organisations(tx)
    if org is None:
        return orgs
    if org not in orgs:
        raise click.ClickException(f"no organisation {org}")
    return [org]


async def _verify_chains(settings: Settings, org: uuid.UUID | None) -> list[tuple[uuid.UUID, Any]]:
    from supervise.audit import service as audit_log

    database = Database(settings)
    try:
        async with database.transaction() as tx:
            orgs = await _chosen(tx, org)
            secret = settings.server_secret()
            return [(org_id, await audit_log.check_chain(tx, org_id, secret)) for org_id in orgs]
    finally:
        await database.dispose()


@audit.command("verify")
@click.option("--org", "org", type=click.UUID, default=None, help="One organisation (default: every one).")
def verify_audit(org: uuid.UUID | None) -> None:
    """Recompute every organisation's hash chain; report each chain's events checked and its first broken
    link (exit 1 if any chain is broken)."""
    results = asyncio.run(_verify_chains(env_settings(), org))
    broken = 0
    for org_id, check in results:
        archived = f" (events 1 to {check.archived} archived)" if check.archived else ""
        if check.broken is None:
            click.echo(f"{org_id}: {check.checked} events, intact{archived}")
        else:
            broken += 1
            click.echo(
                f"{org_id}: broken at seq {check.broken.seq}: {check.broken.reason} "
                f"({check.checked} events intact before it){archived}"
            )
    total = sum(check.checked for _, check in results)
    if broken:
        raise click.ClickException(f"{broken} of {len(results)} chains broken ({total} events checked)")
    click.echo(f"{len(results)} chain{'' if len(results) == 1 else 's'} intact, {total} events checked")


async def _archive(settings: Settings, org: uuid.UUID | None, before: dt.datetime, output: Path) -> list[str]:
    from supervise.audit import service as audit_log

    database = Database(settings)
    secret = settings.server_secret()
    done: list[str] = []
    try:
        async with database.transaction() as tx:
            orgs = await _chosen(tx, org)
        for org_id in orgs:
            async with database.transaction() as tx:  # nothing is archived from a chain that does not verify
                check = await audit_log.check_chain(tx, org_id, secret)
                if check.broken is not None:
                    raise click.ClickException(
                        f"{org_id}: not archived, its chain is broken at seq {check.broken.seq}: {check.broken.reason}"
                    )
                found = await audit_log.sign_archivable(tx, org_id, before, secret)
            if found is None:
                done.append(f"{org_id}: nothing older than {before.isoformat()} to archive")
                continue
            signed = found.checkpoint
            path = output / f"audit-{org_id}-{found.first}-{signed.seq}.jsonl"
            async with database.transaction() as tx:  # deleted only once the file is on disk
                with path.open("wb") as file:
                    async for line in audit_log.export_lines(tx, org_id, signed):
                        file.write(line)
                    file.flush()
                    os.fsync(file.fileno())
                deleted = await audit_log.delete_archived(tx, org_id, signed)
            done.append(f"{org_id}: events {found.first} to {signed.seq} ({deleted}) archived to {path}")
    finally:
        await database.dispose()
    return done


@audit.command("archive")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    required=True,
    help="Archive the events older than this many days.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    required=True,
    help="Directory for the archive files (one per chain).",
)
@click.option("--org", "org", type=click.UUID, default=None, help="One organisation (default: every one).")
def archive_audit(days: int, output: Path, org: uuid.UUID | None) -> None:
    """Move each chain's events older than --older-than days out of the database: verify the chain, sign it at
    its newest such event, write the events and that signed head to audit-<org>-<first>-<last>.jsonl in
    --output (fsynced), then delete them. The chain's newest event always stays. What remains verifies from the
    signed head; the file verifies by the README's hash scheme."""
    output.mkdir(parents=True, exist_ok=True)
    before = utcnow() - dt.timedelta(days=days)
    for line in asyncio.run(_archive(env_settings(), org, before, output)):
        click.echo(line)


async def _sign_heads(settings: Settings, org: uuid.UUID | None) -> list[dict[str, Any]]:
    from supervise.audit import service as audit_log

    database = Database(settings)
    try:
        async with database.transaction() as tx:
            orgs = await _chosen(tx, org)
            secret = settings.server_secret()
            signed = [await audit_log.sign_head(tx, org_id, secret) for org_id in orgs]
            return [
                {
                    "org_id": str(c.org_id),
                    "seq": c.seq,
                    "hash": c.hash,
                    "mac": c.mac,
                    "created_at": c.created_at.isoformat(),
                }
                for c in signed
                if c is not None
            ]
    finally:
        await database.dispose()


@audit.command("checkpoint")
@click.option("--org", "org", type=click.UUID, default=None, help="One organisation (default: every one).")
def checkpoint_audit(org: uuid.UUID | None) -> None:
    """Sign every organisation's chain head with the server secret (HMAC-SHA256), store the signatures, and
    print each as a JSON line to keep outside the database. Run it periodically (cron)."""
    for line in asyncio.run(_sign_heads(env_settings(), org)):
        click.echo(json.dumps(line))


@main.group()
def orgs() -> None:
    """Organisations (tenants)."""


async def _create_org(settings: Settings, name: str, admin_name: str, admin_email: str) -> dict[str, str]:
    from supervise.audit import service as audit
    from supervise.auth.keys import ApiKeyHasher
    from supervise.auth.service import issue_key
    from supervise.members.service import create_organisation

    database = Database(settings)
    try:
        async with database.transaction() as tx:
            made = await create_organisation(tx, name, admin_name, admin_email)
            hasher = ApiKeyHasher(settings.server_secret())
            issued = await issue_key(tx, hasher, made.organisation.id, made.admin.id, "first admin key")
            await audit.record(tx, None, "api_key.create", "api_key", issued.key.id, org_id=made.organisation.id)
    finally:
        await database.dispose()
    return {"org_id": str(made.organisation.id), "member_id": str(made.admin.id), "api_key": issued.secret}


@orgs.command("create")
@click.argument("name")
@click.option("--admin-name", required=True, help="The first admin's name.")
@click.option("--admin-email", required=True, help="The first admin's email address.")
@click.option("--json", "as_json", is_flag=True, help="Print {org_id, member_id, api_key} as JSON.")
def create_org(name: str, admin_name: str, admin_email: str, as_json: bool) -> None:
    """Create an organisation and its first admin; print the admin's API key once."""
    from supervise.members.schemas import Email, Name

    for label, value, kind in (
        ("NAME", name, Name),
        ("--admin-name", admin_name, Name),
        ("--admin-email", admin_email, Email),
    ):
        try:
            msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            raise click.BadParameter(str(exc), param_hint=label) from None
    settings = env_settings()
    ensure_schema(settings)
    made = asyncio.run(_create_org(settings, name, admin_name, admin_email))
    if as_json:
        click.echo(json.dumps(made))
        return
    click.echo(f"organisation {made['org_id']}")
    click.echo(f"admin        {made['member_id']}")
    click.echo(f"api key      {made['api_key']}")
    click.echo("The key is shown once; keep it somewhere safe.", err=True)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app, independent of any database or secret."""
    from supervise.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="openapi-" * 4))
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def openapi(output: Path | None) -> None:
    """Print or write the OpenAPI document."""
    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


main.add_command(rubrics)
main.add_command(plugin_commands)
main.add_command(event_commands)
main.add_command(worker)
