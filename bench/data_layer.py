"""What the data layer costs per request, against a bare Litestar endpoint measured in the same run.

    uv run python bench/data_layer.py [--seconds 5] [--concurrency 16] [--server uvicorn|granian]

Needs PostgreSQL for the PostgreSQL rows: SUPERVISE_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test; a scratch database is created and dropped). Each server runs in
its own process with one worker; the load generator is a small keep-alive HTTP/1.1 client in this process,
so the two share the machine's two cores the same way in every row. Ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supervise.cli import _create_org  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.db import alembic_config  # noqa: E402

SECRET = "bench-secret-" * 4
RequestFactory = Callable[[int], bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    server: str, target: str, port: int, env: dict[str, str], app_dir: str | None
) -> subprocess.Popen[bytes]:
    if server == "granian":
        cmd = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            target,
        ]
        if app_dir:
            env = {**env, "PYTHONPATH": app_dir}
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            target,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if app_dir:
            cmd += ["--app-dir", app_dir]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {cmd}")


async def _worker(port: int, make: RequestFactory, counter: list[int], stop_at: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            counter[0] += 1
            request = make(counter[0])
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            if status >= 400:
                raise RuntimeError(f"status {status}: {head!r}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def measure(port: int, make: RequestFactory, seconds: float, concurrency: int) -> dict[str, float]:
    counter = [0]
    warm: list[float] = []
    await asyncio.gather(*(_worker(port, make, counter, time.perf_counter() + 0.5, warm) for _ in range(concurrency)))
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_worker(port, make, counter, stop_at, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def get(path: str, key: str | None = None) -> RequestFactory:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    raw = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()
    return lambda _: raw


def create_member(key: str) -> RequestFactory:
    run = uuid.uuid4().hex[:8]

    def make(n: int) -> bytes:
        body = f'{{"name":"Bench {n}","email":"b{n}-{run}@bench.example","roles":["clinician"]}}'.encode()
        head = (
            f"POST /v1/members HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    return make


async def _pg(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def prepare(url: str) -> str:
    from alembic import command

    command.upgrade(alembic_config(Settings(database_url=url)), "head")
    made = asyncio.run(_create_org(Settings(database_url=url, secret_key=SECRET), "Bench", "Admin", "a@bench.example"))
    return made["api_key"]


def seed_reviews(url: str, admin_key: str, sessions: int = 60) -> str:
    """A supervised therapist with ``sessions`` recorded sessions, each reviewed (submitted) by their
    supervisor; returns the therapist's key. The row then lists reviews as the therapist: every visibility
    rule (blinding, consent, supervision) is evaluated per row."""
    from litestar.testing import TestClient

    from supervise.app import create_app

    with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:

        def call(key: str, method: str, path: str, body: object = None, **headers: str) -> dict[str, object]:
            response = client.request(method, path, json=body, headers={"Authorization": f"Bearer {key}", **headers})
            assert response.status_code < 300, response.text
            return dict(response.json())

        def member(roles: list[str]) -> tuple[str, str]:
            made = call(
                admin_key,
                "POST",
                "/v1/members",
                {"name": "M", "email": f"{uuid.uuid4().hex}@b.example", "roles": roles},
            )
            key = call(admin_key, "POST", f"/v1/members/{made['id']}/api-keys", {"name": "bench"})
            return str(made["id"]), str(key["secret"])

        supervisor, supervisor_key = member(["supervisor"])
        therapist, therapist_key = member(["clinician"])
        call(admin_key, "POST", "/v1/supervision-links", {"supervisor_id": supervisor, "supervisee_id": therapist})
        case = call(therapist_key, "POST", "/v1/cases", {"therapist_id": therapist, "external_ref": "C-1"})
        items = dict.fromkeys(
            ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"], 5
        )
        for number in range(1, sessions + 1):
            recording = call(
                therapist_key,
                "POST",
                "/v1/recordings",
                {
                    "case_id": case["id"],
                    "occurred_at": "2026-11-02T10:00:00Z",
                    "session_number": number,
                    "duration_ms": 3_000_000,
                    "medium": "video",
                    "media": {"uri": f"s3://b/{number}.mp4", "sha256": "0" * 64},
                    "consent": {"scope": "supervision"},
                },
            )
            review = call(
                supervisor_key, "POST", "/v1/reviews", {"recording_id": recording["id"], "rubric_key": "alliance"}
            )
            path = f"/v1/reviews/{review['id']}"
            call(supervisor_key, "PATCH", path, {"responses": {"items": items}}, **{"If-Match": '"1"'})
            call(supervisor_key, "POST", f"{path}/submit")
    return therapist_key


def run_row(
    label: str,
    server: str,
    target: str,
    env: dict[str, str],
    make: RequestFactory,
    args: argparse.Namespace,
    app_dir: str | None = None,
) -> dict[str, float]:
    port = free_port()
    proc = start_server(server, target, port, env, app_dir)
    try:
        result = asyncio.run(measure(port, make, args.seconds, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(10)
    result["label"] = label  # type: ignore[assignment]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--pool-sizes", default="1,5", help="SQLite pool sizes to compare")
    args = parser.parse_args()
    pg_admin = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

    rows: list[dict[str, float]] = []
    rows.append(
        run_row(
            "bare Litestar GET", args.server, "bare_app:create_app", {}, get("/bare"), args, app_dir=str(ROOT / "bench")
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        key = prepare(sqlite_url)
        therapist_key = seed_reviews(sqlite_url, key)
        for pool in args.pool_sizes.split(","):
            env = {
                "SUPERVISE_DATABASE_URL": sqlite_url,
                "SUPERVISE_SECRET_KEY": SECRET,
                "SUPERVISE_DATABASE_POOL_SIZE": pool,
            }
            rows.append(
                run_row(
                    f"sqlite pool={pool} GET /v1/me",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    get("/v1/me", key),
                    args,
                )
            )
            rows.append(
                run_row(
                    f"sqlite pool={pool} POST /v1/members",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    create_member(key),
                    args,
                )
            )
            rows.append(
                run_row(
                    f"sqlite pool={pool} GET /v1/reviews (50)",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    get("/v1/reviews?limit=50", therapist_key),
                    args,
                )
            )

    name = f"supervise_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(pg_admin, f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        print(f"(PostgreSQL rows skipped: {exc})")
    else:
        try:
            pg_url = pg_admin.rsplit("/", 1)[0] + f"/{name}"
            key = prepare(pg_url)
            therapist_key = seed_reviews(pg_url, key)
            env = {"SUPERVISE_DATABASE_URL": pg_url, "SUPERVISE_SECRET_KEY": SECRET}
            rows.append(
                run_row(
                    "postgresql GET /v1/me",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    get("/v1/me", key),
                    args,
                )
            )
            rows.append(
                run_row(
                    "postgresql POST /v1/members",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    create_member(key),
                    args,
                )
            )
            rows.append(
                run_row(
                    "postgresql GET /v1/reviews (50)",
                    args.server,
                    "supervise.app:create_app_from_env",
                    env,
                    get("/v1/reviews?limit=50", therapist_key),
                    args,
                )
            )
        finally:
            asyncio.run(_pg(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    baseline = rows[0]["rps"]
    print(f"server={args.server} concurrency={args.concurrency} seconds={args.seconds}")
    print(f"{'scenario':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    for row in rows:
        print(
            f"{row['label']:38} {row['rps']:8.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['rps'] / baseline:8.1%}"
        )


if __name__ == "__main__":
    main()
