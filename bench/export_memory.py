"""The results export's memory at 10,000 and 100,000 reviews: the peak RSS of a real ``supervise serve`` process
while it streams each, against the same process idle, on SQLite and PostgreSQL, in one run.

    uv run python bench/export_memory.py [--reviews 10000,100000] [--backends sqlite,postgresql]

Per backend: one scratch database (PostgreSQL: SUPERVISE_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test; created and dropped), one organisation per size, seeded straight into
the tables with bulk inserts (100 therapists under 10 supervisors, each session rated by a supervisor, a peer
and the therapist with ``alliance``, 12 measures per review; no rollups, which the export does not read), then one
``supervise serve`` process on a loopback port. Its RSS is read from ``/proc/<pid>/status`` every 5 ms: idle
(after one small request), then during each export, smallest first, while this process downloads the CSV in
chunks and counts its lines (one per review and measure, plus the header) without keeping it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from data_layer import SECRET, _pg, free_port, prepare  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from aggregates import ITEMS, MEASURES, START, SUBSCALES  # noqa: E402
from supervise.cli import _create_org  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.members.tables import Member, SupervisionLink  # noqa: E402
from supervise.recordings.tables import Case, Recording  # noqa: E402
from supervise.reviews.tables import Review  # noqa: E402
from supervise.runtime import Runtime  # noqa: E402
from supervise.scores.tables import ReviewScore  # noqa: E402

ROLES = ("supervisor", "peer", "self")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Sampler:
    """The highest RSS of a process seen while it runs, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self.peak = rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))


async def generate(runtime: Runtime, org_id: uuid.UUID, reviews: int, seed: int = 1) -> None:
    """``reviews`` submitted reviews (a third each by a supervisor, a peer and the therapist) of sessions over two
    years, 100 therapists under 10 supervisors, inserted in batches. Only what the export reads: no rollups."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)

    def member(name: str, **roles: bool) -> dict[str, Any]:
        return {"id": uuid.uuid4(), "org_id": org_id, "kind": "person", "name": name, "email": f"{uuid.uuid4().hex}@b",
                "active": True, "version": 1, "created_at": now, "updated_at": now, "is_admin": False,
                "is_supervisor": False, "is_clinician": False, **roles}  # fmt: skip

    supervisors = [member(f"S{i}", is_supervisor=True) for i in range(10)]
    therapists = [member(f"T{i}", is_clinician=True) for i in range(100)]
    links = [
        {"id": uuid.uuid4(), "org_id": org_id, "supervisor_id": supervisors[i % 10]["id"],
         "supervisee_id": t["id"], "created_at": now}
        for i, t in enumerate(therapists)
    ]  # fmt: skip
    cases = [
        {"id": uuid.uuid4(), "org_id": org_id, "therapist_id": t["id"], "external_ref": f"C-{i}", "created_at": now}
        for i, t in enumerate(therapists)
    ]
    async with runtime.db.transaction() as tx:
        for table, rows in ((Member, supervisors + therapists), (SupervisionLink, links), (Case, cases)):
            await tx.execute(insert(table), rows)
    sessions, batch = reviews // len(ROLES), 500
    for first in range(0, sessions, batch):
        recordings, made, values = [], [], []
        for number in range(first, min(first + batch, sessions)):
            index = number % len(therapists)
            therapist, case = therapists[index], cases[index]
            occurred = START + dt.timedelta(minutes=rng.randrange(0, 730 * 24 * 60))
            recording_id = uuid.uuid4()
            recordings.append({
                "id": recording_id, "org_id": org_id, "case_id": case["id"], "therapist_id": therapist["id"],
                "occurred_at": occurred, "session_number": number // len(therapists) + 1, "duration_ms": 3_000_000,
                "medium": "video", "media_uri": f"s3://b/{number}", "media_sha256": "0" * 64,
                "consent_scope": "supervision", "consent_expires_at": None, "consent_withdrawn_at": None,
                "external_id": f"ehr-{number}", "version": 1, "created_at": now, "updated_at": now,
            })  # fmt: skip
            raters = (supervisors[index % 10]["id"], therapists[(index + 1) % len(therapists)]["id"], therapist["id"])
            for role, reviewer in zip(ROLES, raters, strict=True):
                review_id = uuid.uuid4()
                items = {item: rng.randint(1, 7) for item in ITEMS}
                scored = {key: sum(items[i] for i in keys) / len(keys) for key, keys in SUBSCALES.items()}
                scored["total"] = sum(items.values()) / len(items)
                made.append({
                    "id": review_id, "org_id": org_id, "recording_id": recording_id, "therapist_id": therapist["id"],
                    "reviewer_id": reviewer, "request_id": None, "role": role, "rubric_key": "alliance",
                    "rubric_version": "1.0", "state": "submitted", "revision": 1, "amends_id": None,
                    "amend_reason": None, "superseded_by_id": None, "responses": {"items": items, "segments": []},
                    "comment": None, "result": {"scores": scored, "flags": []}, "submitted_at": now,
                    "acknowledged_at": None, "acknowledgement": None, "usefulness": None, "version": 2,
                    "created_at": now, "updated_at": now,
                })  # fmt: skip
                base = {
                    "org_id": org_id, "review_id": review_id, "therapist_id": therapist["id"], "reviewer_id": reviewer,
                    "recording_id": recording_id, "case_id": case["id"], "session_number": 1, "role": role,
                    "rubric_key": "alliance", "rubric_version": "1.0", "occurred_at": occurred,
                    "local_day": occurred.date(),  # the organisation is on UTC
                }  # fmt: skip
                values += [{**base, "measure_kind": "item", "measure": k, "value": float(v)} for k, v in items.items()]
                values += [{**base, "measure_kind": "score", "measure": k, "value": v} for k, v in scored.items()]
        async with runtime.db.transaction() as tx:
            await tx.execute(insert(Recording), recordings)
            await tx.execute(insert(Review), made)
            await tx.execute(insert(ReviewScore), values)


async def seed(settings: Settings, reviews: int) -> str:
    """An organisation with ``reviews`` submitted reviews; its admin's API key."""
    made = await _create_org(settings, f"Bench {reviews}", "Admin", f"admin-{reviews}@bench.example")
    runtime = Runtime.build(settings)
    try:
        await generate(runtime, uuid.UUID(made["org_id"]), reviews)
        async with runtime.db.transaction() as tx:
            # A database in use has planner statistics; one bulk-loaded a moment ago has none until autovacuum
            # gets to it, and without them PostgreSQL plans the export's page query for empty tables.
            await tx.execute(text("ANALYZE"))
    finally:
        await runtime.close()
    return str(made["api_key"])


def start(url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
    server = subprocess.Popen(
        [sys.executable, "-m", "supervise", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server, port
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("supervise serve did not start")


def download(port: int, key: str) -> tuple[int, int, float]:
    """Lines and bytes of the whole year's export, and the seconds it took."""
    lines = size = 0
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{port}/v1/exports/results.csv",
        params={"from": "2024-01-01", "to": "2027-12-31"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    ) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines, size, time.perf_counter() - started


def bench(name: str, url: str, sizes: list[int]) -> list[str]:
    prepare(url)  # migrations (and an organisation of its own, unused)
    settings = Settings(database_url=url, secret_key=SECRET)
    keys = {}
    for reviews in sizes:
        started = time.perf_counter()
        keys[reviews] = asyncio.run(seed(settings, reviews))
        print(f"[{name}] seeded {reviews:,} reviews in {time.perf_counter() - started:.0f} s", flush=True)
    server, port = start(url)
    out = []
    try:
        smallest = sizes[0]
        httpx.get(f"http://127.0.0.1:{port}/v1/me", headers={"Authorization": f"Bearer {keys[smallest]}"})
        time.sleep(1)
        idle = rss_kib(server.pid)
        out.append(f"{name:10} idle (after one request)        RSS {idle / 1024:7.1f} MiB")
        peaks = {}
        for reviews in sizes:
            with Sampler(server.pid) as sampled:
                lines, size, seconds = download(port, keys[reviews])
            expected = (reviews // 3 * 3) * MEASURES + 1
            assert lines == expected, (lines, expected)
            peaks[reviews] = sampled.peak
            out.append(
                f"{name:10} export of {reviews:>7,} reviews          peak RSS {sampled.peak / 1024:7.1f} MiB "
                f"(+{(sampled.peak - idle) / 1024:5.1f} over idle); {lines - 1:,} rows, {size / 2**20:.0f} MiB "
                f"in {seconds:.1f} s ({(lines - 1) / seconds:,.0f} rows/s)"
            )
        out.append(f"{name:10} high-water mark of the process  VmHWM {rss_kib(server.pid, 'VmHWM') / 1024:7.1f} MiB")
        big, small = sizes[-1], sizes[0]
        out.append(
            f"{name:10} peak at {big:,} / peak at {small:,}: {peaks[big] / peaks[small]:.2f}x "
            f"(growth over idle: {(peaks[big] - idle) / 1024:.1f} vs {(peaks[small] - idle) / 1024:.1f} MiB)"
        )
    finally:
        server.terminate()
        server.wait(30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.reviews.split(","))
    pg_admin = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    lines: list[str] = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                lines += bench("sqlite", f"sqlite+aiosqlite:///{tmp}/export.db", sizes)
        else:
            name = f"supervise_export_{uuid.uuid4().hex[:8]}"
            asyncio.run(_pg(pg_admin, f'CREATE DATABASE "{name}"'))
            try:
                lines += bench("postgresql", pg_admin.rsplit("/", 1)[0] + f"/{name}", sizes)
            finally:
                asyncio.run(_pg(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
