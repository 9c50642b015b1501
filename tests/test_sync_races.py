"""The README's sync rule under concurrent writers (issue 13): a client polling a list with ``updated_since``
from the ``Date`` of its previous walk's first response less 60 seconds ends up with every row as it finally
is, although writes commit while it walks and a large batch commits seconds after the time its first rows
carry. On PostgreSQL a client that polls without that overlap misses some: the test shows the late commits it
guards against did happen. (On SQLite one process serves, and every transaction takes the write lock first,
so none can: there the overlap costs a re-read and guards nothing, and the test says so.)

A real ``supervise serve`` (two workers on PostgreSQL) takes batches of 500 recordings, single POSTs and consent
PATCHes from several threads while two pollers walk ``/v1/recordings`` over and over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import itertools
import json
import sqlite3
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from supervise.db import asyncpg_dsn, sqlite_file
from tests.test_serve import SUPERVISE, call, environment, new_org, redis_url, serving

OVERLAP = dt.timedelta(seconds=60)
"""The README's overlap: the 30 s a write may take before it must commit, and 30 s for clocks."""

BATCHES, BATCH_ITEMS = 2, 500
LATE = 1.0
"""Seconds between a slow write's stamp and its commit."""


def recording(case_id: str, number: int) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "occurred_at": "2026-11-02T10:00:00Z",
        "session_number": number,
        "duration_ms": 3_000_000,
        "medium": "audio",
        "media": {"uri": f"s3://sync/{uuid.uuid4()}.m4a", "sha256": "0" * 64},
        "consent": {"scope": "supervision"},
        "external_id": f"sync-{number}",
    }


def walk(port: int, key: str, since: str) -> tuple[dt.datetime, list[dict[str, Any]]]:
    """Every recording changed since ``since``, page by page; and the ``Date`` of the first page's answer."""
    items: list[dict[str, Any]] = []
    query = {"updated_since": since, "limit": "200"}
    date = None
    while True:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/recordings?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            date = date or email.utils.parsedate_to_datetime(answer.headers["Date"])
            page = json.load(answer)
        items += page["items"]
        if page["next_cursor"] is None:
            return date, items
        query["cursor"] = page["next_cursor"]


def late_write(database_url: str, recording_id: str, hold: float) -> None:
    """Change a recording as a slow worker would: its ``updated_at`` stamped, then the commit ``hold`` seconds
    later (well inside the 30 s a write may take). On SQLite the stamp is taken once the write lock is held, as
    the server takes every stamp (its transactions begin with ``BEGIN IMMEDIATE``): a stamp taken while waiting
    for the lock would be a write no server makes, and a walk could pass it by."""
    path = sqlite_file(database_url)
    if path is not None:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            connection.execute("BEGIN IMMEDIATE")
            stamp = dt.datetime.now(dt.UTC)
            connection.execute(
                "UPDATE recordings SET version = version + 1, updated_at = ? WHERE id = ?",
                (stamp.strftime("%Y-%m-%d %H:%M:%S.%f"), uuid.UUID(recording_id).hex),
            )
            time.sleep(hold)
            connection.execute("COMMIT")
        finally:
            connection.close()
        return

    stamp = dt.datetime.now(dt.UTC)

    async def postgres() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            async with connection.transaction():
                await connection.execute(
                    "UPDATE recordings SET version = version + 1, updated_at = $1 WHERE id = $2",
                    stamp,
                    uuid.UUID(recording_id),
                )
                await asyncio.sleep(hold)
        finally:
            await connection.close()

    asyncio.run(postgres())


class Poller:
    """Polls again and again from the previous walk's ``Date`` less ``overlap``, keeping each recording as last
    seen (the newest ``updated_at``)."""

    def __init__(self, port: int, key: str, overlap: dt.timedelta) -> None:
        self.port, self.key, self.overlap = port, key, overlap
        self.since = "2000-01-01T00:00:00Z"
        self.seen: dict[str, str] = {}
        self.walks = 0

    def poll(self) -> None:
        began = dt.datetime.now(dt.UTC)
        date, items = walk(self.port, self.key, self.since)
        if not self.overlap:
            date = began  # to the microsecond: the naive rule at its sharpest, not rounded down to a second
        for item in items:
            self.seen[item["id"]] = max(self.seen.get(item["id"], ""), item["updated_at"])
        self.since = (date - self.overlap).isoformat()
        self.walks += 1

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll()


def race(database_url: str, env: dict[str, str], *argv: str) -> None:
    admin = new_org(env)
    with serving(env, SUPERVISE, "serve", *argv) as port:
        status, clinician = call(
            port, "POST", "/v1/members", admin, {"name": "T", "email": "t@sync.example", "roles": ["clinician"]}
        )
        assert status == 201, clinician
        status, made = call(port, "POST", f"/v1/members/{clinician['id']}/api-keys", admin, {"name": "sync"})
        assert status == 201, made
        therapist = made["secret"]
        status, case = call(
            port, "POST", "/v1/cases", therapist, {"therapist_id": clinician["id"], "external_ref": "S"}
        )
        assert status == 201, case
        numbers = itertools.count(1)
        failures: list[Any] = []
        pushed: list[str] = []

        def guarded(target: Any, *args: Any) -> threading.Thread:
            def run() -> None:
                try:
                    target(*args)
                except Exception as error:
                    failures.append(repr(error))

            return threading.Thread(target=run)

        def batches() -> None:
            for _ in range(BATCHES):
                items = [recording(case["id"], next(numbers)) for _ in range(BATCH_ITEMS)]
                status, answer = call(port, "POST", "/v1/recordings:batch", therapist, {"items": items})
                if status != 200 or answer["created"] != BATCH_ITEMS:
                    failures.append((status, answer))
                    return
                pushed.extend(result["recording"]["id"] for result in answer["items"])

        def slow() -> None:
            """Three writes committed a second after their stamp, once the batches are in (so that a walk is
            much shorter than the second: walks begin and end while the write is under way)."""
            writers[0].join(120)
            for recording_id in pushed[:3]:
                late_write(database_url, recording_id, LATE)

        def singles(done: threading.Event) -> None:
            made: list[str] = []
            while not done.is_set():
                status, answer = call(port, "POST", "/v1/recordings", therapist, recording(case["id"], next(numbers)))
                if status != 201:
                    failures.append((status, answer))
                    return
                made.append(answer["id"])
                if len(made) % 3 == 0:  # change one made earlier: it moves to the end of the sync order
                    changed = made[len(made) // 2]
                    status, current = call(port, "GET", f"/v1/recordings/{changed}", therapist)
                    scope = (
                        "supervision_and_training" if current["consent"]["scope"] == "supervision" else "supervision"
                    )
                    status, answer = call(
                        port,
                        "PATCH",
                        f"/v1/recordings/{changed}",
                        therapist,
                        {"consent_scope": scope},
                        **{"If-Match": f'"{current["version"]}"'},
                    )
                    if status != 200:
                        failures.append((status, answer))
                        return

        careful, naive = Poller(port, admin, OVERLAP), Poller(port, admin, dt.timedelta(0))
        stop, written = threading.Event(), threading.Event()
        pollers = [threading.Thread(target=poller.run, args=(stop,)) for poller in (careful, naive)]
        writers = [guarded(batches), guarded(singles, written), guarded(slow)]
        for thread in pollers + writers:
            thread.start()
        writers[2].join(180)
        written.set()
        writers[1].join(30)
        time.sleep(1.5)  # a poll or two more, over what committed last
        stop.set()
        for thread in pollers:
            thread.join(60)
        assert not failures, failures[:3]
        careful.poll()  # both finish with one more walk, as a client's next poll would
        naive.poll()
        _, everything = walk(port, admin, "2000-01-01T00:00:00Z")

    final = {item["id"]: item["updated_at"] for item in everything}
    assert len(final) >= BATCHES * BATCH_ITEMS
    assert careful.walks >= 3 and naive.walks >= 3
    assert careful.seen == final  # every recording, as it finally is
    behind = [id_ for id_, updated_at in final.items() if naive.seen.get(id_) != updated_at]
    if sqlite_file(database_url) is not None:
        # Every transaction on SQLite, a list's too, begins by taking the write lock (supervise.db), so no walk
        # runs while a write is under way: there even a poller without overlap misses nothing.
        assert behind == []
    else:
        late = set(pushed[:3])
        assert late <= set(behind), "the slow writes committed late, yet the poller without overlap saw them"


@pytest.mark.slow
def test_a_poller_with_the_overlap_misses_no_change(database_url: str, backend: str, tmp_path: Path) -> None:
    env = environment(database_url, SUPERVISE_RATE_LIMIT_PER_ADDRESS="1000000/minute")
    if backend == "sqlite":
        race(database_url, env)
    else:
        shared = {"SUPERVISE_REDIS_URL": redis_url(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
        race(database_url, {**env, **shared}, "--workers", "2")
