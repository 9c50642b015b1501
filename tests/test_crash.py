"""``kill -9`` under write load (issue 15): every acknowledged write survives, the audit chains verify, and the
rollups equal a recomputation from the scores.

A real ``supervise serve`` (one worker on SQLite, which refuses more; two on PostgreSQL, sharing Redis) takes
concurrent writes that touch every durable part at once: recordings, reviews with their scores and rollups,
members, and the audit chain each of them extends. While requests are in flight every server process gets
SIGKILL. The server is started again on the same database, and what it acknowledged before dying is read back.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.rubrics.test_template_install import free_port
from tests.test_serve import SUPERVISE, call, environment, new_org, redis_url, serving, wait_ready

ITEMS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]
LOAD_SECONDS = 3.0
WRITERS = 6


@contextmanager
def killable(env: dict[str, str], *argv: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``supervise serve`` in a process group of its own (its workers with it), until ready; SIGKILLed to the
    last process on the way out if the test did not do it first."""
    port = free_port()
    server = subprocess.Popen(
        [SUPERVISE, "serve", "--port", str(port), *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        wait_ready(port, server)
        yield port, server
    finally:
        kill_all(server)


def kill_all(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(20)


def ok(answer: tuple[int, Any]) -> Any:
    status, body = answer
    assert status < 300, (status, body)
    return body


class Load:
    """Writers that note each id only once its write was acknowledged (a 2xx answer read in full)."""

    def __init__(self, port: int, keys: dict[str, str], case_id: str) -> None:
        self.port, self.keys, self.case_id = port, keys, case_id
        self.recordings: list[str] = []
        self.submitted: list[str] = []
        self.members: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.unexpected: list[tuple[int, Any]] = []
        self.sessions = itertools.count(1)  # a case's session numbers are unique

    def _call(self, key: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        status, answer = call(self.port, method, path, self.keys[key], body, **headers)
        if status >= 300:
            self.unexpected.append((status, answer))
            raise ConnectionError(status)
        return answer

    def write(self, writer: int) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            try:
                if number % 3 == 0:
                    email = f"w{writer}-{number}-{uuid.uuid4().hex[:6]}@crash.example"
                    made = self._call("admin", "POST", "/v1/members", {"name": "M", "email": email})
                    with self.lock:
                        self.members.append(made["id"])
                    continue
                recording = self._call(
                    "therapist",
                    "POST",
                    "/v1/recordings",
                    {
                        "case_id": self.case_id,
                        "occurred_at": "2026-11-02T10:00:00Z",
                        "session_number": next(self.sessions),
                        "duration_ms": 3_000_000,
                        "medium": "video",
                        "media": {"uri": f"s3://crash/{uuid.uuid4()}.mp4", "sha256": "0" * 64},
                        "consent": {"scope": "supervision"},
                    },
                )
                with self.lock:
                    self.recordings.append(recording["id"])
                review = self._call(
                    "supervisor", "POST", "/v1/reviews", {"recording_id": recording["id"], "rubric_key": "alliance"}
                )
                path = f"/v1/reviews/{review['id']}"
                items = {item: 1 + (number + i) % 5 for i, item in enumerate(ITEMS)}
                self._call("supervisor", "PATCH", path, {"responses": {"items": items}}, **{"If-Match": '"1"'})
                self._call("supervisor", "POST", f"{path}/submit")
                with self.lock:
                    self.submitted.append(review["id"])
            except (OSError, ConnectionError, json.JSONDecodeError, urllib.error.URLError):
                if self.stop.is_set():
                    return
                time.sleep(0.01)  # the server is gone: try again until told to stop


def crash_under_load(env: dict[str, str], *argv: str) -> None:
    admin = new_org(env)
    with killable(env, *argv) as (port, server):
        keys = {"admin": admin}
        ids = {}
        for role in ("supervisor", "clinician"):
            member = ok(
                call(port, "POST", "/v1/members", admin, {"name": role, "email": f"{role}@c.example", "roles": [role]})
            )
            ids[role] = member["id"]
            keys["supervisor" if role == "supervisor" else "therapist"] = ok(
                call(port, "POST", f"/v1/members/{member['id']}/api-keys", admin, {"name": "crash"})
            )["secret"]
        link = {"supervisor_id": ids["supervisor"], "supervisee_id": ids["clinician"]}
        ok(call(port, "POST", "/v1/supervision-links", admin, link))
        case = ok(
            call(
                port, "POST", "/v1/cases", keys["therapist"], {"therapist_id": ids["clinician"], "external_ref": "C-1"}
            )
        )
        load = Load(port, keys, case["id"])
        writers = [threading.Thread(target=load.write, args=(n,)) for n in range(WRITERS)]
        for writer in writers:
            writer.start()
        time.sleep(LOAD_SECONDS)
        kill_all(server)  # with requests in flight: the writers are still writing
        load.stop.set()
        for writer in writers:
            writer.join(30)
    assert not load.unexpected, load.unexpected[:3]  # before the crash, every write succeeded
    assert load.recordings and load.submitted and load.members, "the load wrote nothing before the crash"

    with serving(env, SUPERVISE, "serve", *argv) as port:
        for recording in load.recordings:
            assert ok(call(port, "GET", f"/v1/recordings/{recording}", keys["therapist"]))["id"] == recording
        for review in load.submitted:
            assert ok(call(port, "GET", f"/v1/reviews/{review}", keys["supervisor"]))["state"] == "submitted"
        for member in load.members:
            assert ok(call(port, "GET", f"/v1/members/{member}", admin))["id"] == member
    for check in (("audit", "verify"), ("db", "verify-rollups")):
        done = subprocess.run([SUPERVISE, *check], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, (check, done.stdout[-2000:], done.stderr[-2000:])


@pytest.mark.slow
def test_acknowledged_writes_survive_kill_9(database_url: str, backend: str, tmp_path: Path) -> None:
    env = environment(database_url, SUPERVISE_RATE_LIMIT_PER_ADDRESS="1000000/minute")
    if backend == "sqlite":
        crash_under_load(env)
    else:
        shared = {"SUPERVISE_REDIS_URL": redis_url(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
        crash_under_load({**env, **shared}, "--workers", "2")
