"""``supervise serve`` as operators run it: a real server on a loopback port (issue 15's defects 1, 7 and 8)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from supervise.audit.chain import new_event
from supervise.audit.readlog import ReadLog
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database, alembic_config
from supervise.errors import ServiceUnavailable
from supervise.members.tables import Organisation
from tests.conftest import SECRET
from tests.rubrics.test_template_install import free_port

SUPERVISE = str(Path(sys.executable).parent / "supervise")


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERVISE_", "FORWARDED_ALLOW_IPS"))}
    return {**env, "SUPERVISE_DATABASE_URL": database_url, "SUPERVISE_SECRET_KEY": SECRET, **extra}


def call(port: int, method: str, path: str, key: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    """Until ``server`` answers ``/readyz`` on ``port`` (at most 60 s; fails at once if it exits)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                return
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else "server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)


@contextmanager
def serving(env: dict[str, str], *command: str, logs: Path | None = None) -> Iterator[int]:
    """A server on a free loopback port, started by ``command`` (``supervise serve`` by default), until ready;
    everything it writes goes to ``logs`` if given."""
    port = free_port()
    argv = [*(command or (SUPERVISE, "serve")), "--port", str(port)]
    if logs is not None:
        with logs.open("wb") as written:
            server = subprocess.Popen(argv, env=env, stdout=written, stderr=subprocess.STDOUT)
    else:
        server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(20)


def new_org(env: dict[str, str]) -> str:
    made = subprocess.run(
        [SUPERVISE, "orgs", "create", "Proxy clinic", "--admin-name", "A", "--admin-email", "a@p.example", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(made.stdout)["api_key"])


def created_from(port: int, key: str, forwarded: str) -> str | None:
    """Create a member, claiming to come from ``forwarded``; the address the audit log kept for it."""
    email = f"{uuid.uuid4().hex[:8]}@p.example"
    status, made = call(
        port, "POST", "/v1/members", key, {"name": "N", "email": email}, **{"X-Forwarded-For": forwarded}
    )
    assert status == 201, made
    status, logged = call(port, "GET", f"/v1/audit-events?resource_id={made['id']}&action=member.create", key)
    assert status == 200, logged
    [event] = logged["items"]
    return event["source_address"]  # type: ignore[no-any-return]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(database_url: str) -> None:
    """Before: uvicorn believed X-Forwarded-For from localhost by default, so any client could write an address
    of its choosing into the audit log; on PostgreSQL one over 64 characters made the write a 500."""
    env = environment(database_url)
    key = new_org(env)
    with serving(env) as port:
        assert created_from(port, key, "203.0.113.9") == "127.0.0.1"
    with serving({**env, "SUPERVISE_TRUSTED_PROXIES": "127.0.0.1, ::1"}) as port:
        assert created_from(port, key, "203.0.113.9") == "203.0.113.9"
        assert created_from(port, key, "2001:0db8:0000::0001") == "2001:db8::1"
        assert created_from(port, key, "x" * 100) is None  # bounded: what is not an address is not kept
        assert created_from(port, key, "not an address, 198.51.100.7") == "198.51.100.7"


def test_a_misspelt_trusted_proxy_stops_the_server(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'supervise.db'}", SUPERVISE_TRUSTED_PROXIES="10.0.0.0/8, 10.0.0.300")
    done = subprocess.run([SUPERVISE, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "'10.0.0.300' is not an IP address or network" in done.stderr


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    """Before: each worker ran its statements on its own event loop and froze it waiting for another's lock."""
    env = environment(f"sqlite:///{tmp_path / 'supervise.db'}")
    done = subprocess.run(
        [SUPERVISE, "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "SQLite serves one worker" in done.stderr
    assert "PostgreSQL" in done.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_is_private_to_its_owner(tmp_path: Path) -> None:
    """Before: created 0644, readable by every local user, while its secret beside it was 0600."""
    previous = os.umask(0o022)
    try:
        migrated = tmp_path / "migrated" / "supervise.db"  # created by the migrations (what serve runs first)
        command.upgrade(alembic_config(Settings(database_url=f"sqlite:///{migrated}")), "head")
        opened = tmp_path / "opened" / "supervise.db"  # created by the application

        async def write() -> None:
            database = Database(Settings(database_url=f"sqlite:///{opened}", secret_key=SECRET))
            try:
                async with database.engine.begin() as connection:
                    await connection.exec_driver_sql("CREATE TABLE t (x)")
                    await connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                assert (opened.parent / "supervise.db-wal").exists()
                assert _mode(opened.parent / "supervise.db-wal") == 0o600
            finally:
                await database.dispose()

        asyncio.run(write())
    finally:
        os.umask(previous)
    assert _mode(migrated) == 0o600
    assert _mode(opened) == 0o600


@pytest.mark.backends("postgresql")
def test_one_requests_bad_audit_event_fails_no_other_read(database_url: str) -> None:
    """Before: one event the database refused (an address over 64 characters) failed the whole group commit,
    so other users' concurrent reads answered 503 too (16 of 150 in the attack)."""

    async def run() -> list[BaseException | None]:
        database = Database(Settings(database_url=database_url, secret_key=SECRET))
        log = ReadLog(database)
        org = uuid.uuid4()
        try:
            async with database.transaction() as tx:
                tx.add(Organisation(id=org, name="group", created_at=utcnow()))

            class Tx:  # what ReadLog.write takes from a request's transaction: its noted reads
                def __init__(self, address: str) -> None:
                    event = new_event(None, org, "recording.read", "recording", uuid.uuid4(), "success", utcnow())
                    event.source_address = address
                    self.info: dict[str, Any] = {"supervise.audit.reads": [event]}

            txs = [Tx("192.0.2.1"), Tx("x" * 100), Tx("192.0.2.3")]
            return await asyncio.gather(*(log.write(tx) for tx in txs), return_exceptions=True)  # type: ignore[arg-type]
        finally:
            await log.close()
            await database.dispose()

    good, bad, other = asyncio.run(run())
    assert good is None and other is None
    assert isinstance(bad, ServiceUnavailable)


def redis_url() -> str:
    """The test Redis (``.ci/run`` starts one); without one, outside CI, the test is skipped."""
    url = os.environ.get("SUPERVISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {url}")
    return url


def _statuses(port: int, key: str, count: int) -> list[int]:
    """``count`` requests with ``key``, eight at a time, each on a connection of its own (so that the kernel
    hands them to either worker)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/me", headers={"Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def workers_serving(port: int, metrics: Path) -> set[str]:
    """Wait (up to 30 s) until both workers answer: each writes its metrics file (prometheus-client's
    multiprocess mode, under ``metrics``) once it has served a request. The ids of the processes that did."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
            pass
        writers = {path.stem.rpartition("_")[2] for path in metrics.glob("counter_*.db")}
        if len(writers) >= 2 or time.monotonic() > deadline:
            return writers
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_rate_limits_hold_across_two_workers_with_redis(database_url: str, tmp_path: Path) -> None:
    """Counted in each worker, two workers let a key through about twice its limit (the control, run by uvicorn
    directly, since ``supervise serve`` refuses it); counted in Redis, exactly its limit."""
    env = environment(
        database_url, SUPERVISE_RATE_LIMIT_PER_KEY="20/hour", SUPERVISE_RATE_LIMIT_PER_ADDRESS="100000/minute"
    )
    key = new_org(env)
    uvicorn = (sys.executable, "-m", "uvicorn", "supervise.app:create_app_from_env", "--factory", "--workers", "2")
    (tmp_path / "control").mkdir()
    (tmp_path / "redis").mkdir()
    with serving({**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "control")}, *uvicorn) as port:
        assert len(workers_serving(port, tmp_path / "control")) == 2
        statuses = _statuses(port, key, 80)
    assert statuses.count(200) > 20, "counted in each worker, the limit would not hold"
    key = new_org(env)
    redis_env = {**env, "SUPERVISE_REDIS_URL": redis_url(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "redis")}
    with serving(redis_env, SUPERVISE, "serve", "--workers", "2") as port:
        assert len(workers_serving(port, tmp_path / "redis")) == 2
        statuses = _statuses(port, key, 80)
    assert statuses.count(200) == 20
    assert statuses.count(429) == 60


@pytest.mark.backends("postgresql")
def test_several_workers_without_redis_are_refused(database_url: str) -> None:
    done = subprocess.run(
        [SUPERVISE, "serve", "--workers", "2", "--port", str(free_port())],
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "Several workers need SUPERVISE_REDIS_URL" in done.stderr


def _raw(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send ``head`` and ``body`` as they are; what the server answers before it closes or within 10 s."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close while the head is still being sent
            sock.sendall(head + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                    break
        except OSError:
            pass
    return answer


@pytest.mark.slow
def test_request_heads_are_bounded(tmp_path: Path) -> None:
    """Before: a 200 KB header line and 500 header fields were accepted."""
    env = environment(f"sqlite:///{tmp_path / 'supervise.db'}")
    key = new_org(env)
    with serving(env) as port:
        huge = _raw(port, b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        assert huge.startswith(b"HTTP/1.1 431 "), huge[:200]
        assert json.loads(huge.split(b"\r\n\r\n", 1)[1])["status"] == 431
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(500))
        answer = _raw(port, b"GET /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + many + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        problem = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert problem["detail"] == "A request may carry at most 100 header fields."
        # heads within the bounds, and bodies of any size up to the body limit, are served
        status, _ = call(port, "GET", "/v1/me", key, **{"X-Fine": "b" * 16_000})
        assert status == 200
        note = "n" * 900_000
        status, made = call(port, "POST", "/v1/members", key, {"name": note[:200], "email": "big@p.example"})
        assert status == 201, made
        body = json.dumps({"name": "N", "email": "bigger@p.example", "padding": note}).encode()
        head = (
            b"POST /v1/members HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert _raw(port, head, body).startswith(b"HTTP/1.1 400 ")  # the unknown field, not the head's size
