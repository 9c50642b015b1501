"""The ``supervise`` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import uuid
from pathlib import Path

import click
import pytest
import time_machine
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import delete, select, text, update

from supervise.app import create_app
from supervise.audit.chain import event_hash
from supervise.audit.tables import AuditEvent
from supervise.cli import ensure_schema, main
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database
from tests.conftest import SECRET, fresh_database
from tests.support import Api


def run(args: list[str], url: str) -> str:
    env = {"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_orgs_create_prints_a_working_key(database_url: str, client: TestClient[Litestar]) -> None:
    out = run(
        ["orgs", "create", "Riverside Clinic", "--admin-name", "Ada", "--admin-email", "ada@r.example", "--json"],
        database_url,
    )
    made = json.loads(out)
    assert set(made) == {"org_id", "member_id", "api_key"}
    me = Api(client, made["api_key"]).get("/v1/me").json()
    assert me["organisation"] == {"id": made["org_id"], "name": "Riverside Clinic"}
    assert me["member"]["id"] == made["member_id"]
    assert me["member"]["roles"] == ["admin"]
    created = Api(client, made["api_key"]).get("/v1/audit-events", params={"action": "api_key.create"}).json()
    assert [(e["resource_id"], e["actor_member_id"]) for e in created["items"]] == [(me["api_key"]["id"], None)]


def test_orgs_create_rejects_a_bad_email(database_url: str) -> None:
    env = {"SUPERVISE_DATABASE_URL": database_url, "SUPERVISE_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["orgs", "create", "X", "--admin-name", "A", "--admin-email", "nope"], env=env)
    assert result.exit_code == 2
    assert "--admin-email" in result.output


def test_openapi_writes_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    run(["openapi", "--output", str(target)], "sqlite:///unused.db")
    committed = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
    assert target.read_text() == committed.read_text()


def test_db_current_reports_head(database_url: str) -> None:
    out = run(["db", "current"], database_url)
    current, head = (line.split()[-1] for line in out.splitlines())
    assert current == head != "none"


def test_schema_on_start(backend: str, tmp_path: Path) -> None:
    """SQLite is brought to head on start; PostgreSQL refuses to start until someone upgrades it."""
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url, secret_key=SECRET)
        if backend == "sqlite":
            ensure_schema(settings)
            current, head = (line.split()[-1] for line in run(["db", "current"], url).splitlines())
            assert current == head != "none"
        else:
            with pytest.raises(click.ClickException, match="supervise db upgrade"):
                ensure_schema(settings)
            run(["db", "upgrade"], url)
            ensure_schema(settings)


def test_audit_verify_reports_each_chain_and_finds_a_rewritten_one(backend: str, tmp_path: Path) -> None:
    """``supervise audit verify``: every chain's events counted; a row rewritten by someone who disabled the
    append-only trigger is found, with its position, and the command fails."""
    for url in fresh_database(backend, tmp_path):
        run(["db", "upgrade"], url)
        made = [
            json.loads(
                run(["orgs", "create", name, "--admin-name", "A", "--admin-email", "a@c.example", "--json"], url)
            )
            for name in ("First clinic", "Second clinic")
        ]
        with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:
            for org in made:  # three more events in each chain, after the 3 of its creation
                api = Api(client, org["api_key"])
                for i in range(3):
                    assert (
                        api.post("/v1/members", json={"name": f"M{i}", "email": f"m{i}@c.example"}).status_code == 201
                    )
        out = run(["audit", "verify"], url)
        assert f"{made[0]['org_id']}: 6 events, intact" in out
        assert out.strip().endswith("2 chains intact, 12 events checked")
        assert (
            run(["audit", "verify", "--org", made[1]["org_id"]], url)
            .strip()
            .endswith("1 chain intact, 6 events checked")
        )

        asyncio.run(_rewrite(url, made[1]["org_id"], seq=3))
        result = CliRunner().invoke(
            main, ["audit", "verify"], env={"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
        )
        assert result.exit_code == 1
        assert f"{made[0]['org_id']}: 6 events, intact" in result.output
        assert f"{made[1]['org_id']}: broken at seq 3: event content does not match its hash (2 events intact" in (
            result.output
        )
        assert "1 of 2 chains broken (8 events checked)" in result.output


async def _rewrite(url: str, org_id: str, *, seq: int) -> None:
    """What a superuser could do: switch the append-only trigger off and change an event."""
    database = Database(Settings(database_url=url, secret_key=SECRET))
    try:
        async with database.transaction() as tx:
            if tx.get_bind().dialect.name == "postgresql":
                await tx.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            else:
                await tx.execute(text("DROP TRIGGER audit_events_no_update"))
            await tx.execute(
                update(AuditEvent)
                .where(AuditEvent.org_id == uuid.UUID(org_id), AuditEvent.seq == seq)
                .values(action="forged")
            )
    finally:
        await database.dispose()


async def _rewrite_and_rehash(url: str, org_id: str, *, seq: int, drop_after: int | None = None) -> None:
    """What a superuser who knows the hash scheme could do: switch the triggers off, change an event, and
    recompute every later hash so that the chain alone verifies again; or cut the chain short after a seq."""
    database = Database(Settings(database_url=url, secret_key=SECRET))
    try:
        async with database.transaction() as tx:
            if tx.get_bind().dialect.name == "postgresql":
                await tx.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            else:
                await tx.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
                await tx.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
            events = list(
                await tx.scalars(
                    select(AuditEvent).where(AuditEvent.org_id == uuid.UUID(org_id)).order_by(AuditEvent.seq)
                )
            )
            if drop_after is not None:
                await tx.execute(
                    delete(AuditEvent).where(AuditEvent.org_id == uuid.UUID(org_id), AuditEvent.seq > drop_after)
                )
                return
            previous = events[seq - 2].hash
            for event in events[seq - 1 :]:
                if event.seq == seq:
                    event.action = "forged"
                event.prev_hash = previous
                event.hash = previous = event_hash(event)
            await tx.flush()
    finally:
        await database.dispose()


def _verify(url: str, secret: str = SECRET) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["audit", "verify"], env={"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": secret}
    )
    return result.exit_code, result.output


def test_signed_heads_catch_a_chain_rewritten_with_its_hashes_recomputed(backend: str, tmp_path: Path) -> None:
    """``supervise audit checkpoint`` signs each head with the server secret. Rewriting an event and every later
    hash passes the chain alone, but not the signed head after it; nor does cutting the chain short; nor does a
    head signed with another secret."""
    for url in fresh_database(backend, tmp_path):
        run(["db", "upgrade"], url)
        made = [
            json.loads(
                run(["orgs", "create", name, "--admin-name", "A", "--admin-email", "a@c.example", "--json"], url)
            )
            for name in ("First clinic", "Second clinic")
        ]
        with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:
            api = Api(client, made[0]["api_key"])
            for i in range(3):
                assert api.post("/v1/members", json={"name": f"M{i}", "email": f"m{i}@c.example"}).status_code == 201
        signed = [json.loads(line) for line in run(["audit", "checkpoint"], url).splitlines()]
        assert [(line["org_id"], line["seq"]) for line in signed] == [(made[0]["org_id"], 6), (made[1]["org_id"], 3)]
        assert run(["audit", "checkpoint"], url).splitlines()[0] == json.dumps(signed[0])  # the same head, once
        assert _verify(url)[0] == 0
        assert _verify(url, "another-secret-of-32-characters-or-more")[1].count("signature is not the server") == 2

        asyncio.run(_rewrite_and_rehash(url, made[0]["org_id"], seq=4))
        code, output = _verify(url)
        assert code == 1
        assert f"{made[0]['org_id']}: broken at seq 6: the chain does not reach the head signed at this seq" in output
        assert f"{made[1]['org_id']}: 3 events, intact" in output

        asyncio.run(_rewrite_and_rehash(url, made[1]["org_id"], seq=0, drop_after=2))
        code, output = _verify(url)
        assert f"{made[1]['org_id']}: broken at seq 3: events missing: a head was signed at seq 3" in output


def test_archiving_moves_old_events_out_and_what_remains_verifies(backend: str, tmp_path: Path) -> None:
    """``supervise audit archive``: a chain's events older than the cut-off go to a file that verifies by the
    README's scheme alone, ending in the signed head; the database lets exactly those go; the chain that
    remains verifies from that head and goes on growing; and without a signed head a cut start is broken."""
    for url in fresh_database(backend, tmp_path):
        run(["db", "upgrade"], url)
        made = [
            json.loads(
                run(["orgs", "create", name, "--admin-name", "A", "--admin-email", "a@c.example", "--json"], url)
            )
            for name in ("First clinic", "Second clinic")
        ]
        app = create_app(Settings(database_url=url, secret_key=SECRET))
        with TestClient(app) as client:  # 3 more events in the first chain: seq 4 to 6
            api = Api(client, made[0]["api_key"])
            for i in range(3):
                assert api.post("/v1/members", json={"name": f"M{i}", "email": f"m{i}@c.example"}).status_code == 201
        # nothing but a signed, archived prefix may be deleted: the whole chain, head included, may not
        run(["audit", "checkpoint", "--org", made[0]["org_id"]], url)
        with pytest.raises(Exception, match="append-only"):
            asyncio.run(_delete_events(url, made[0]["org_id"], through=6))
        with time_machine.travel(utcnow() + dt.timedelta(days=31), tick=True):
            with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:
                api = Api(client, made[0]["api_key"])
                assert api.post("/v1/members", json={"name": "New", "email": "new@c.example"}).status_code == 201
            out = run(["audit", "archive", "--older-than", "30", "--output", str(tmp_path / "archive")], url)
        first, second = (
            tmp_path / "archive" / f"audit-{m['org_id']}-1-{n}.jsonl" for m, n in zip(made, (6, 2), strict=True)
        )
        assert f"{made[0]['org_id']}: events 1 to 6 (6) archived to {first}" in out
        assert f"{made[1]['org_id']}: events 1 to 2 (2) archived to {second}" in out  # its newest event stays
        for path, org in ((first, made[0]), (second, made[1])):
            _verify_archive(path, org["org_id"])

        verified = run(["audit", "verify"], url)
        assert f"{made[0]['org_id']}: 1 events, intact (events 1 to 6 archived)" in verified
        assert f"{made[1]['org_id']}: 1 events, intact (events 1 to 2 archived)" in verified
        with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:  # the chain goes on
            api = Api(client, made[0]["api_key"])
            assert api.post("/v1/members", json={"name": "Next", "email": "next@c.example"}).status_code == 201
            seqs = [e["seq"] for e in api.get("/v1/audit-events").json()["items"]]
            assert min(seqs) == 7 and max(seqs) == len(seqs) + 6
        assert "2 chains intact" in run(["audit", "verify"], url)
        assert "nothing older" in run(["audit", "archive", "--older-than", "30", "--output", str(tmp_path)], url)

        # the remaining chain's start is trusted only through the signed head: rewritten, it is found
        asyncio.run(_rewrite(url, made[0]["org_id"], seq=7))
        code, output = _verify(url)
        assert (code, f"{made[0]['org_id']}: broken at seq 7: event content does not match its hash") == (
            1,
            output.splitlines()[0].split(" (")[0],
        )


def _verify_archive(path: Path, org_id: str) -> None:
    """The archive file as an outside tool would check it: the README's hash scheme, then the signed head."""
    *lines, last = [json.loads(line) for line in path.read_text().splitlines()]
    previous = "0" * 64
    for event in lines:
        at = dt.datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).isoformat()
        fields = ["actor_member_id", "api_key_id", "action", "resource_type", "resource_id", "outcome"]
        canonical = [org_id, event["seq"], at, *(event[f] for f in fields), event["request_id"]]
        canonical += [event["source_address"], event["prev_hash"]] + ([event["count"]] if event["count"] != 1 else [])
        assert event["org_id"] == org_id and event["prev_hash"] == previous
        assert hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest() == event["hash"]
        previous = event["hash"]
    head = last["checkpoint"]
    assert (head["seq"], head["hash"]) == (lines[-1]["seq"], previous)
    message = f"supervise-audit-checkpoint:{org_id}:{head['seq']}:{head['hash']}".encode()
    assert hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest() == head["mac"]


async def _delete_events(url: str, org_id: str, *, through: int) -> None:
    database = Database(Settings(database_url=url, secret_key=SECRET))
    try:
        async with database.transaction() as tx:
            await tx.execute(
                delete(AuditEvent).where(AuditEvent.org_id == uuid.UUID(org_id), AuditEvent.seq <= through)
            )
    finally:
        await database.dispose()
