"""The change feed: commit order under concurrent writers, exactly once, and retention with pruning."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner

from supervise.cli import main
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database, new_id
from supervise.events import repository, service
from supervise.events.schemas import RecordingCreated
from tests.conftest import SECRET
from tests.events.test_outbox import feed
from tests.reviews.support import make_team
from tests.support import Org
from tests.test_http import assert_problem


def row() -> dict[str, Any]:
    return {"id": new_id(), "type": "recording.created", "occurred_at": utcnow(), "data": {}}


async def read(database: Database, org_id: uuid.UUID, after: int) -> list[int]:
    async with database.transaction() as tx:
        return [event.seq for event in await repository.page_after(tx, org_id, after, 1000)]


@pytest.mark.backends("postgresql")
def test_a_number_is_given_only_once_every_smaller_one_is_committed(settings: Settings, org: Org) -> None:
    """Two writers: A takes a number and commits late; B, meanwhile, cannot take one (it waits at A's counter
    row), so a reader between sees neither, never B's event alone, and its cursor cannot pass A's."""
    org_id = uuid.UUID(org.id)

    async def run() -> None:
        database = Database(settings)
        try:
            got: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            release = asyncio.Event()

            async def writer_b() -> None:
                async with database.transaction() as b:
                    [seq] = await repository.append(b, org_id, [row()])
                    got.set_result(seq)
                    await release.wait()

            async with database.transaction() as a:
                [first] = await repository.append(a, org_id, [row()])
                task = asyncio.create_task(writer_b())
                await asyncio.sleep(0.5)
                assert not got.done(), "B took a number while A, holding a smaller one, had not committed"
                assert await read(database, org_id, 0) == []  # a reader between sees neither
            second = await asyncio.wait_for(got, 5)  # A committed: B goes on
            assert second == first + 1
            assert await read(database, org_id, 0) == [first]  # B is not committed yet: the cursor stops at A
            release.set()
            await task
            assert await read(database, org_id, first) == [second]
        finally:
            await database.dispose()

    asyncio.run(run())


def test_every_committed_event_is_read_exactly_once_under_concurrent_writers(settings: Settings, org: Org) -> None:
    """Writers append in overlapping transactions (some roll back) while a reader follows the feed with its
    cursor; once all are done the reader has every committed event once, in order, and nothing else."""
    org_id = uuid.UUID(org.id)
    rng = random.Random(13)

    async def run() -> tuple[list[int], list[uuid.UUID], set[uuid.UUID]]:
        database = Database(settings)
        committed: set[uuid.UUID] = set()
        try:

            async def writer(index: int) -> None:
                for _ in range(6):
                    recording_id = uuid.uuid4()
                    fails = rng.random() < 0.2
                    try:
                        async with database.transaction() as tx:
                            payload = RecordingCreated(
                                recording_id=recording_id, case_id=uuid.uuid4(), therapist_id=uuid.uuid4()
                            )
                            await service.record(tx, org_id, payload)
                            await asyncio.sleep(rng.random() * 0.02)
                            if fails:
                                raise RuntimeError("rolled back")
                    except RuntimeError:
                        continue
                    committed.add(recording_id)

            seqs: list[int] = []
            seen: list[uuid.UUID] = []
            cursor = 0

            async def poll() -> int:
                async with database.transaction() as tx:
                    page = await repository.page_after(tx, org_id, cursor, 7)
                seqs.extend(event.seq for event in page)
                seen.extend(uuid.UUID(event.data["recording_id"]) for event in page)
                return page[-1].seq if page else cursor

            writers = asyncio.gather(*(writer(i) for i in range(8)))
            while not writers.done():
                cursor = await poll()
                await asyncio.sleep(0.003)
            await writers
            while (after := await poll()) != cursor:
                cursor = after
            return seqs, seen, committed
        finally:
            await database.dispose()

    seqs, seen, committed = asyncio.run(run())
    assert seqs == list(range(1, len(seqs) + 1))  # in order, no gap, no repeat
    assert len(seen) == len(set(seen)) and set(seen) == committed
    assert len(committed) > 20


def prune(settings: Settings, *args: str) -> str:
    env = {"SUPERVISE_DATABASE_URL": settings.database_url, "SUPERVISE_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["events", "prune", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_events_past_retention_are_pruned_and_an_old_cursor_is_refused(settings: Settings, org: Org) -> None:
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now - dt.timedelta(days=31), tick=False):
        team = make_team(org)  # recording.created, 31 days ago
        team.request(team.supervisor, team.peer, "peer")  # review.requested
    with time_machine.travel(now - dt.timedelta(days=29), tick=False):
        team.request(team.supervisor, team.therapist, "self")  # 29 days ago: kept
    assert [e["seq"] for e in feed(org.admin)["items"]] == [1, 2, 3]
    first = org.admin.api.get("/v1/events", params={"limit": "2"}).json()
    assert ([e["seq"] for e in first["items"]], first["next_cursor"], first["has_more"]) == ([1, 2], "2", True)
    last = org.admin.api.get("/v1/events", params={"limit": "2", "after": "2"}).json()
    assert ([e["seq"] for e in last["items"]], last["has_more"]) == ([3], False)

    assert "pruned" in prune(settings)  # 30 days by default
    kept = feed(org.admin)
    assert [(e["seq"], e["type"]) for e in kept["items"]] == [(3, "review.requested")]
    problem = assert_problem(org.admin.api.get("/v1/events", params={"after": "1"}), 410)
    assert problem["type"].endswith("/events-expired")
    assert [e["seq"] for e in feed(org.admin, after="2")["items"]] == [3]  # a cursor at the cut goes on

    prune(settings, "--older-than", "1")
    assert feed(org.admin) == {"items": [], "next_cursor": "3", "has_more": False}
    # numbering goes on after pruning: a cursor never meets a number twice
    team.request(team.supervisor, team.bystander, "peer")
    assert [e["seq"] for e in feed(org.admin, after="3")["items"]] == [4]
