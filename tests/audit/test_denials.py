"""Refused attempts are audited without letting one key flood the log: repeats of the same refusal within a
window are one event with their count (``supervise.audit.denials``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.audit import denials
from supervise.audit.denials import DISTINCT_PER_KEY
from supervise.audit.service import verify_chain
from supervise.config import Settings
from supervise.db import Database
from supervise.runtime import Runtime
from tests.audit.test_audit import events
from tests.support import Org, Person
from tests.test_http import assert_problem


def denied_by(org: Org, person: Person) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in events(org) if e["outcome"] == "denied" and e["actor_member_id"] == person.id]


def flush(client: TestClient[Litestar]) -> None:
    """What the window's end does: write the repeats counted so far."""
    runtime: Runtime = client.app.state["runtime"]
    client.blocking_portal.call(runtime.denials.flush)


def chain_intact(settings: Settings, org: Org) -> bool:
    async def verify() -> bool:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                return await verify_chain(tx, uuid.UUID(org.id)) is None
        finally:
            await database.dispose()

    return asyncio.run(verify())


def test_repeats_of_one_refusal_are_one_event_with_their_count(
    org: Org, client: TestClient[Litestar], settings: Settings
) -> None:
    clinician = org.member("clinician")
    for _ in range(30):
        assert_problem(clinician.api.post("/v1/members", json={"name": "X", "email": "x@c.example"}), 403)
    # the first is written before its answer leaves; the repeats are only counted so far
    [first] = denied_by(org, clinician)
    assert (first["action"], first["count"]) == ("createMember", 1)
    flush(client)
    repeats, first_again = denied_by(org, clinician)
    assert first_again == first
    assert (repeats["action"], repeats["resource_id"], repeats["count"]) == ("createMember", None, 29)
    assert repeats["occurred_at"] >= first["occurred_at"]
    assert chain_intact(settings, org)
    # a new window: the next refusal is written at once again
    assert_problem(clinician.api.post("/v1/members", json={"name": "X", "email": "x@c.example"}), 403)
    assert [e["count"] for e in denied_by(org, clinician)] == [1, 29, 1]


def test_refusals_on_many_resources_fold_into_one_count_per_action(
    org: Org, client: TestClient[Litestar], settings: Settings
) -> None:
    """A key refused on ever new ids (a scan) gets its first refusals written each on its own, then the rest
    counted together under the action, without a resource."""
    clinician = org.member("clinician")
    scanned = [str(uuid.uuid4()) for _ in range(DISTINCT_PER_KEY + 7)]
    for resource in scanned:
        assert_problem(clinician.api.delete(f"/v1/supervision-links/{resource}"), 403)
    written = denied_by(org, clinician)
    assert sorted(e["resource_id"] for e in written) == sorted(scanned[:DISTINCT_PER_KEY])
    flush(client)
    folded = denied_by(org, clinician)[0]
    assert (folded["resource_id"], folded["count"]) == (None, 7)
    assert len(denied_by(org, clinician)) == DISTINCT_PER_KEY + 1
    assert chain_intact(settings, org)


def test_repeats_counted_when_the_server_stops_are_written(org: Org, settings: Settings) -> None:
    clinician = org.member("clinician")
    with TestClient(create_app(settings)) as second:  # another worker on the same database, then stopped
        for _ in range(5):
            response = second.post(
                "/v1/members",
                json={"name": "X", "email": "x@c.example"},
                headers={"Authorization": f"Bearer {clinician.api.key}"},
            )
            assert response.status_code == 403
    assert [e["count"] for e in denied_by(org, clinician)] == [4, 1]
    assert chain_intact(settings, org)


def test_repeats_a_failed_window_could_not_write_are_written_with_the_next(
    org: Org, client: TestClient[Litestar], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window whose write fails (the database away for a moment) loses none of its counts: they are added to
    the next window's and written with it, under an id of their own."""
    clinician = org.member("clinician")

    def refuse(times: int) -> None:
        for _ in range(times):
            assert_problem(clinician.api.post("/v1/members", json={"name": "X", "email": "x@c.example"}), 403)

    refuse(4)  # 1 written, 3 counted
    real_append = denials.repository.append

    async def unavailable(*args: object) -> None:
        raise OSError("database unavailable")

    monkeypatch.setattr(denials.repository, "append", unavailable)
    flush(client)
    monkeypatch.setattr(denials.repository, "append", real_append)
    assert [e["count"] for e in denied_by(org, clinician)] == [1]
    refuse(3)  # a new window: 1 written, 2 counted, plus the 3 kept
    flush(client)
    assert sorted(e["count"] for e in denied_by(org, clinician)) == [1, 1, 5]
    assert len({e["id"] for e in denied_by(org, clinician)}) == 3
    assert chain_intact(settings, org)
