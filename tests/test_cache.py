"""What is cached per worker (authenticated keys, aggregate views) is never stale: a change committed by any
other worker or process is seen by the very next request; the cached path still checks the secret and expiry.
And reads are audited by group commit: many reads, few commits, every event chained before its answer left."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event, func, select

from supervise.app import create_app
from supervise.audit import chain, readlog
from supervise.audit import repository as audit_repository
from supervise.audit import service as audit
from supervise.audit.tables import AuditEvent
from supervise.auth.principal import Principal, Role
from supervise.config import Settings
from supervise.db import Database
from supervise.errors import ServiceUnavailable
from tests.aggregates.test_series import review, session
from tests.reviews.support import ITEMS, RUBRIC, make_team
from tests.support import Api, Org
from tests.test_http import assert_problem


@pytest.fixture
def second(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """Another worker: its own application (own caches) on the same database."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def on(client: TestClient[Litestar], api: Api) -> Api:
    return Api(client, api.key)


def test_a_revoked_key_or_deactivated_member_is_refused_at_once_by_every_worker(
    org: Org, second: TestClient[Litestar]
) -> None:
    person = org.member("clinician")
    for _ in range(3):  # seen, then remembered by this worker
        assert person.api.get("/v1/me").status_code == 200
    key_id = person.api.get("/v1/me").json()["api_key"]["id"]
    revoked = on(second, org.admin.api).delete(f"/v1/api-keys/{key_id}")
    assert revoked.status_code == 204, revoked.text
    assert_problem(person.api.get("/v1/me"), 401)

    other = org.member("clinician")
    for _ in range(3):
        assert other.api.get("/v1/me").status_code == 200
    deactivated = on(second, org.admin.api).patch(
        f"/v1/members/{other.id}", json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert deactivated.status_code == 200, deactivated.text
    assert_problem(other.api.get("/v1/me"), 401)


def test_the_cached_path_still_checks_the_secret_and_the_expiry(org: Org) -> None:
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as clock:
        # within a minute of its last use, so every call below is answered from the remembered key
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        made = org.admin.api.post(
            f"/v1/members/{org.admin.id}/api-keys", json={"name": "short", "expires_at": expires.isoformat()}
        )
        assert made.status_code == 201, made.text
        key = made.json()["secret"]
        api = Api(org.client, key)
        for _ in range(3):
            assert api.get("/v1/me").status_code == 200
        prefix, _, secret = key.rpartition("_")
        forged = prefix + "_" + ("A" if secret[0] != "A" else "B") + secret[1:]
        assert_problem(Api(org.client, forged).get("/v1/me"), 401)
        clock.move_to(expires - dt.timedelta(milliseconds=50), tick=False)  # still: a slow request must not pass it
        assert api.get("/v1/me").status_code == 200  # still remembered, still valid
        clock.move_to(expires, tick=True)
        assert_problem(api.get("/v1/me"), 401)


def test_views_cached_by_one_worker_follow_changes_made_through_another(org: Org, second: TestClient[Litestar]) -> None:
    team = make_team(org)
    recording = session(team, 10, "2026-05-04")
    review(team.supervisor, recording, dict.fromkeys(ITEMS, 3))
    series = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    params = {"rubric": RUBRIC, "bucket": "all", "role": "supervisor"}

    def rapport_n() -> int:
        answer = team.supervisor.api.get(series, params=params)
        assert answer.status_code == 200, answer.text
        return int(next(m for m in answer.json()["measures"] if m["key"] == "rapport")["buckets"][0]["n"])

    assert rapport_n() == rapport_n() == 1
    # a submission through the other worker
    other = Api(second, team.supervisor.api.key)
    review(
        type(team.supervisor)(team.supervisor.id, other, ""), session(team, 11, "2026-05-05"), dict.fromkeys(ITEMS, 6)
    )
    assert rapport_n() == 2
    # the supervision link removed through the other worker: the series is no longer the supervisor's to see
    links = on(second, org.admin.api).get("/v1/supervision-links", params={"supervisee_id": team.therapist.id})
    for link in links.json()["items"]:
        assert on(second, org.admin.api).delete(f"/v1/supervision-links/{link['id']}").status_code == 204
    assert_problem(team.supervisor.api.get(series, params=params), 404)


def test_every_read_is_audited_before_its_answer_leaves(org: Org, settings: Settings) -> None:
    team = make_team(org)
    review(team.supervisor, session(team, 10, "2026-05-04"), dict.fromkeys(ITEMS, 4))
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    for _ in range(5):  # the first computes, the others come from the cache: all five are audited
        assert team.supervisor.api.get(url, params={"rubric": RUBRIC}).status_code == 200
    events = org.admin.api.get(
        "/v1/audit-events", params={"action": "aggregate.series", "resource_id": team.therapist.id}
    ).json()
    assert len(events["items"]) == 5
    assert {e["actor_member_id"] for e in events["items"]} == {team.supervisor.id}
    assert asyncio.run(_chain_ok(settings, uuid.UUID(org.id)))


async def _chain_ok(settings: Settings, org_id: uuid.UUID) -> bool:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await audit.verify_chain(tx, org_id) is None
    finally:
        await database.dispose()


def test_concurrent_reads_share_commits_and_chain_in_order(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id, member_id = uuid.UUID(org.id), uuid.UUID(org.admin.id)
    principal = Principal(org_id, member_id, uuid.uuid4(), frozenset({Role.ADMIN}), None, request_id="r")
    commits = [0]  # transactions of the read log (one per organisation per group)
    commit = readlog.ReadLog._commit

    async def counted(self: readlog.ReadLog, *args: Any) -> None:
        commits[0] += 1
        await commit(self, *args)

    monkeypatch.setattr(readlog.ReadLog, "_commit", counted)

    async def run() -> tuple[int, int]:
        database = Database(settings)
        reads = readlog.ReadLog(database)
        try:

            async def one(index: int) -> None:
                async with database.sessions() as tx:
                    audit.record_read(tx, principal, "member.read", "member", uuid.UUID(int=index))
                    await reads.write(tx)

            await asyncio.gather(*(one(i) for i in range(40)))
            async with database.transaction() as tx:
                written = await tx.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.org_id == org_id, AuditEvent.request_id == "r")
                )
            return int(written or 0), commits[0]
        finally:
            await reads.close()
            await database.dispose()

    written, commits = asyncio.run(run())
    assert written == 40
    assert 1 <= commits < 40, commits
    assert asyncio.run(_chain_ok(settings, org_id))


def test_workers_reading_and_writing_together_keep_one_intact_chain(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers' read logs and a stream of changes append to one organisation's chain at once. On PostgreSQL
    a read log appends in one statement after the head it wrote last, and must notice when the head moved (the
    other worker, or a change) or when a writer holds the lock, and then append the long way."""
    org_id, member_id = uuid.UUID(org.id), uuid.UUID(org.admin.id)
    principal = Principal(org_id, member_id, uuid.uuid4(), frozenset({Role.ADMIN}), None, request_id="mix")

    appended_after: list[bool] = []  # the one-statement path: True when it appended, False when it declined
    one_statement = audit_repository.append_after

    async def counted(*args: Any) -> bool:
        appended_after.append(await one_statement(*args))
        return appended_after[-1]

    async def run() -> int:
        database = Database(settings)
        workers = [readlog.ReadLog(database), readlog.ReadLog(database)]
        try:

            async def read(index: int) -> None:
                async with database.sessions() as tx:
                    audit.record_read(tx, principal, "member.read", "member", uuid.UUID(int=index))
                    await workers[index % 2].write(tx)

            async def change(index: int) -> None:
                async with database.transaction() as tx:
                    await audit.record(tx, principal, "member.update", "member", uuid.UUID(int=index))

            for round_ in range(8):
                await asyncio.gather(
                    *(read(round_ * 100 + i) for i in range(12)), *(change(round_ * 100 + i) for i in range(2))
                )
            for round_ in range(8, 11):  # then one worker alone: its head stays current
                await asyncio.gather(*(read(round_ * 100 + i * 2) for i in range(7)))
            async with database.transaction() as tx:
                written = await tx.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.org_id == org_id, AuditEvent.request_id == "mix")
                )
            return int(written or 0)
        finally:
            for worker in workers:
                await worker.close()
            await database.dispose()

    monkeypatch.setattr(audit_repository, "append_after", counted)
    written = asyncio.run(run())
    assert written == 8 * 14 + 3 * 7
    assert asyncio.run(_chain_ok(settings, org_id))
    if settings.is_sqlite:
        assert appended_after == [], "SQLite appends under its write lock: it has no one-statement path"
    else:
        assert True in appended_after, "the one-statement append never appended"
        assert False in appended_after, "a moved head or a held lock never sent a read log the long way"


def test_a_read_that_cannot_be_audited_is_not_answered(tmp_path: Any) -> None:
    """The read log's commit fails (here: a database without tables): every waiting read gets a 503."""
    broken = Database(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", secret_key="x" * 40))
    principal = Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), frozenset({Role.ADMIN}), None)

    async def run() -> list[BaseException | None]:
        reads = readlog.ReadLog(broken)
        try:

            async def one() -> None:
                async with broken.sessions() as tx:
                    audit.record_read(tx, principal, "member.read", "member", None)
                    await reads.write(tx)

            return await asyncio.gather(*(one() for _ in range(3)), return_exceptions=True)
        finally:
            await broken.dispose()

    outcomes = asyncio.run(run())
    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes


def test_a_repeated_question_is_answered_without_the_database(org: Org, second: TestClient[Litestar]) -> None:
    """Once a worker has answered a series and seen the key, asking again runs no statement but the read's
    audit event (and the counter read, outside the engine; on PostgreSQL the audit event too, usually)."""
    team = make_team(org)
    review(team.supervisor, session(team, 10, "2026-05-04"), dict.fromkeys(ITEMS, 4))
    api = on(second, team.supervisor.api)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    statements: list[str] = []
    engine = second.app.state.runtime.db.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    for _ in range(2):
        assert api.get(url, params={"rubric": RUBRIC}).status_code == 200
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = api.get(url, params={"rubric": RUBRIC})
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert again.status_code == 200
    newest = org.admin.api.get("/v1/audit-events", params={"limit": 1}).json()["items"][0]
    assert newest["action"] == "aggregate.series" and newest["request_id"] == again.headers["x-request-id"]
    # no key, member, supervision, request or rollup read
    for table in ("api_keys", "members", "supervision_links", "review_requests", "score_rollups", "review_scores"):
        assert not any(table in sql for sql in statements), (table, statements)


def test_an_answer_whose_read_cannot_be_audited_is_not_sent(
    org: Org, second: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    person = on(second, org.admin.api)
    other = org.member("clinician")
    assert person.get(f"/v1/members/{other.id}").status_code == 200

    def broken(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(chain, "chain", broken)  # every way of appending chains the events first
    answer = person.get(f"/v1/members/{other.id}")  # another member's data: an audited read
    assert assert_problem(answer, 503)["type"].endswith("/service-unavailable")
    assert answer.headers["retry-after"] == "1"
    assert other.email not in answer.text


def test_a_counter_read_sees_every_change_committed_before_it_began(
    org: Org, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of the change counter are shared between concurrent requests (on PostgreSQL, one query for all the
    requests waiting). Sharing must never hand a request a value read before it began: while changes commit,
    every read returns the value of the last change committed before it started, or of a later one."""
    from supervise import cache

    org_id = uuid.UUID(org.id)
    queries = [0]  # PostgreSQL: the counter reads sent to the database
    fetch = cache.Generations._fetch

    async def counted(self: cache.Generations, org_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        queries[0] += 1
        values = await fetch(self, org_ids)
        await asyncio.sleep(0.002)  # a slow answer: changes commit, and readers arrive, while it is under way
        return values

    monkeypatch.setattr(cache.Generations, "_fetch", counted)
    committed: list[int] = []  # values, in commit order, from the one before the test
    reads: list[tuple[int, int | None, int]] = []  # (changes committed before the read began, value, after)

    async def run() -> None:
        database = Database(settings)
        generations = cache.Generations(settings)
        try:
            async with database.transaction() as tx:
                value = await tx.scalar(
                    select(cache.OrgGeneration.generation).where(cache.OrgGeneration.org_id == org_id)
                )
            committed.append(int(value or 0))

            async def change() -> None:
                for _ in range(30):
                    async with database.transaction() as tx:
                        await cache.bump(tx, org_id)
                        value = await tx.scalar(
                            select(cache.OrgGeneration.generation).where(cache.OrgGeneration.org_id == org_id)
                        )
                    committed.append(int(value or 0))  # right after the commit

            rng = random.Random(7)

            async def reader() -> None:
                for _ in range(60):
                    before = len(committed)
                    value = await generations.read(org_id)
                    reads.append((before, value, len(committed)))
                    await asyncio.sleep(rng.random() * 0.003)  # readers arrive at any moment, mid-read too

            await asyncio.gather(change(), *(reader() for _ in range(8)))
        finally:
            await generations.close()
            await database.dispose()

    asyncio.run(run())
    assert all(value is not None for _, value, _ in reads)
    for before, value, after in reads:
        # the change under way may already show (committed, not yet noted); an older one never
        assert value in committed[before - 1 : after + 1], (before, value, after)
    if settings.is_sqlite:
        assert queries[0] == 0, "SQLite reads its counter directly, not through the shared reader"
    else:
        assert 0 < queries[0] < len(reads) / 2, (queries[0], len(reads))  # shared, yet read again and again


@pytest.mark.backends("postgresql")
def test_the_one_statement_append_takes_the_chain_lock_once_before_any_row(org: Org, settings: Settings) -> None:
    """The PostgreSQL read log's one-statement append must insert all its rows or none. A try-lock evaluated
    per row could fail for the first rows and succeed for the later ones (once a writer released the lock),
    leaving a gap in the chain; the plan must evaluate it once, before any row."""
    import asyncpg  # type: ignore[import-untyped]

    async def plan() -> str:
        connection = await asyncpg.connect(settings.url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            arrays = [[None]] * len(audit_repository.ARRAYS)
            rows = await connection.fetch(
                "EXPLAIN (VERBOSE) " + audit_repository.APPEND_AFTER, uuid.UUID(org.id), 1, 1, *arrays
            )
            return "\n".join(row[0] for row in rows)
        finally:
            await connection.close()

    text = asyncio.run(plan())
    assert "pg_try_advisory_xact_lock" in text, text
    per_row = [line for line in text.splitlines() if "Filter:" in line and "One-Time Filter:" not in line]
    assert not any("pg_try_advisory_xact_lock" in line for line in per_row), text
    assert "One-Time Filter" in text, text
