"""The audit log: written with the change, hash-chained, append-only in the database, readable by admins."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import uuid

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from supervise.audit.service import verify_chain
from supervise.audit.tables import AuditEvent
from supervise.config import Settings
from supervise.db import Database
from supervise.runtime import Runtime
from tests.support import Org
from tests.test_http import assert_problem


def events(org: Org, **params: str) -> list[dict]:  # type: ignore[type-arg]
    return org.admin.api.get("/v1/audit-events", params={"limit": 200, **params}).json()["items"]


def test_writes_and_reads_of_others_are_recorded_with_context(org: Org) -> None:
    response = org.admin.api.post(
        "/v1/members", json={"name": "N", "email": "n@c.example"}, headers={"X-Request-ID": "req-create-1"}
    )
    member_id = response.json()["id"]
    org.admin.api.get(f"/v1/members/{member_id}", headers={"X-Request-ID": "req-read-1"})
    logged = events(org, resource_id=member_id)
    created = next(e for e in logged if e["action"] == "member.create")
    read = next(e for e in logged if e["action"] == "member.read")
    assert created["actor_member_id"] == org.admin.id
    assert created["request_id"] == "req-create-1"
    assert read["request_id"] == "req-read-1"
    assert created["api_key_id"] == org.admin.api.get("/v1/me").json()["api_key"]["id"]
    assert created["outcome"] == "success"
    # the in-process client's host is "testclient", no address: kept as none (tests/test_serve.py: real ones)
    assert created["source_address"] is None
    # ids only: no names or emails anywhere in the log
    assert "n@c.example" not in str(logged)


def test_reading_own_record_is_not_audited_but_others_is(org: Org) -> None:
    clinician = org.member("clinician")
    clinician.api.get(f"/v1/members/{clinician.id}")
    assert not [e for e in events(org, action="member.read") if e["resource_id"] == clinician.id]
    clinician.api.get(f"/v1/members/{org.admin.id}")
    reads = [e for e in events(org, action="member.read") if e["actor_member_id"] == clinician.id]
    assert [e["resource_id"] for e in reads] == [org.admin.id]


def test_failed_request_leaves_no_event(org: Org) -> None:
    existing = org.member("clinician")
    before = len(events(org))
    assert_problem(org.admin.api.post("/v1/members", json={"name": "Dup", "email": existing.email}), 409)
    after = events(org)
    # the only new events are the two audit reads themselves
    assert len(after) == before + 1
    assert after[0]["action"] == "audit_event.list"


def test_refused_attempts_are_recorded_as_denied(org: Org) -> None:
    clinician = org.member("clinician")
    assert_problem(clinician.api.post("/v1/members", json={"name": "X", "email": "x@c.example"}), 403)
    denied = [e for e in events(org) if e["outcome"] == "denied"]
    assert [(e["actor_member_id"], e["action"]) for e in denied] == [(clinician.id, "createMember")]


def test_only_admins_read_the_log(org: Org) -> None:
    assert_problem(org.member("supervisor").api.get("/v1/audit-events"), 403)


def test_chain_verifies_and_pages_newest_first(org: Org, settings: Settings) -> None:
    for _ in range(3):
        org.member("clinician")
    page = org.admin.api.get("/v1/audit-events", params={"limit": 2}).json()
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs, reverse=True)
    rest = org.admin.api.get("/v1/audit-events", params={"limit": 200, "cursor": page["next_cursor"]}).json()
    assert next(e["seq"] for e in rest["items"]) < seqs[-1]
    everything = events(org)
    for newer, older in itertools.pairwise(everything):
        assert newer["prev_hash"] == older["hash"]

    async def check() -> object:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                return await verify_chain(tx, uuid.UUID(org.id))
        finally:
            await database.dispose()

    assert asyncio.run(check()) is None


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_database_refuses_to_change_audit_events(org: Org, settings: Settings, statement: str) -> None:
    org_id = uuid.UUID(org.id)

    async def tamper() -> None:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                if statement == "update":
                    await tx.execute(update(AuditEvent).where(AuditEvent.org_id == org_id).values(action="x"))
                else:
                    await tx.execute(delete(AuditEvent).where(AuditEvent.org_id == org_id))
        finally:
            await database.dispose()

    with pytest.raises(DBAPIError, match="append-only"):
        asyncio.run(tamper())
    assert len(events(org)) > 0


def test_tampering_is_detected_by_the_chain(org: Org, settings: Settings) -> None:
    """Even someone who bypasses the triggers (a superuser) cannot rewrite history unnoticed."""
    org.member("clinician")
    org_id = uuid.UUID(org.id)

    async def tamper_and_verify() -> object:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                if tx.get_bind().dialect.name == "postgresql":
                    await tx.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
                else:
                    await tx.execute(text("DROP TRIGGER audit_events_no_update"))
                await tx.execute(
                    update(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.seq == 2).values(action="forged")
                )
                found = await verify_chain(tx, org_id)
                await tx.rollback()
                return found
        finally:
            await database.dispose()

    broken = asyncio.run(tamper_and_verify())
    assert broken is not None
    assert broken.seq == 2  # type: ignore[attr-defined]


def test_an_export_verifies_by_the_readmes_description_alone(org: Org) -> None:
    """The hash scheme as the README states it, written again here with the standard library only: an outside
    tool verifying an export of the log gets the same hashes."""
    clinician = org.member("clinician")
    for _ in range(3):  # a refusal and its repeats: an event with a count
        assert_problem(clinician.api.post("/v1/members", json={"name": "X", "email": "x@c.example"}), 403)
    runtime: Runtime = org.client.app.state["runtime"]
    org.client.blocking_portal.call(runtime.denials.flush)
    exported = sorted(events(org), key=lambda event: event["seq"])
    assert [event["seq"] for event in exported] == list(range(1, len(exported) + 1))
    assert [event["count"] for event in exported if event["count"] != 1] == [2]
    previous = "0" * 64
    for event in exported:
        fields = ["actor_member_id", "api_key_id", "action", "resource_type", "resource_id", "outcome"]
        at = dt.datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).isoformat()
        canonical = [org.id, event["seq"], at, *(event[f] for f in fields), event["request_id"]]
        canonical += [event["source_address"], event["prev_hash"]]
        canonical += [event["count"]] if event["count"] != 1 else []
        encoded = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False).encode()
        assert event["prev_hash"] == previous
        assert hashlib.sha256(encoded).hexdigest() == event["hash"]
        previous = event["hash"]
