"""A batch upsert of 500 recordings against 500 single POSTs of the same recordings, in the same run (issue 13).

    uv run python bench/recording_batch.py [--rounds 3] [--items 500] [--backends sqlite,postgresql]

One uvicorn worker per backend, every safeguard on (authentication, permissions, rate limits, audit, outbox).
A clinic of 50 therapists with a case each is seeded; each round then pushes ``--items`` new recordings
(spread over the 50 cases) in these ways, each timed from the first byte sent to the last byte read:

- ``single``: one ``POST /v1/recordings`` after another on one keep-alive connection (a clinic system that
  pushes as sessions end);
- ``single x16``: the same over 16 connections at once (the best a client can do without the batch);
- ``batch``: one ``POST /v1/recordings:batch`` with all of them;
- ``batch again``: the same batch once more (every item unchanged, the nightly re-sync);
- ``batch, new cases``: a batch of as many new recordings, each naming a new client's case by reference
  (``case``), so that the batch creates a case per item as well (the worst case of a day with new clients).

The figure to compare is the ratio of each to ``single`` in the same round. PostgreSQL:
SUPERVISE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test; a scratch database is created
and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from data_layer import SECRET, _pg, free_port, prepare, start_server

ROOT = Path(__file__).resolve().parents[1]
APP = "supervise.app:create_app_from_env"
THERAPISTS = 50


def seed(base: str, key: str) -> tuple[list[str], list[str]]:
    """50 therapists with one case each, through the API; their case ids and their ids."""
    cases, therapists = [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        for t in range(THERAPISTS):
            member = client.post(
                "/v1/members", json={"name": f"T{t}", "email": f"t{t}@bench.example", "roles": ["clinician"]}
            )
            assert member.status_code == 201, member.text
            case = client.post("/v1/cases", json={"therapist_id": member.json()["id"], "external_ref": f"C-{t}"})
            assert case.status_code == 201, case.text
            cases.append(case.json()["id"])
            therapists.append(member.json()["id"])
    return cases, therapists


def recordings(cases: list[str], count: int, run: str) -> list[dict[str, Any]]:
    items = []
    for n in range(count):
        media = hashlib.sha256(f"{run}-{n}".encode()).hexdigest()
        items.append(
            {
                "case_id": cases[n % len(cases)],
                "occurred_at": f"2026-11-02T{8 + n % 10:02d}:00:00+01:00",
                "session_number": n // len(cases) + 1,
                "duration_ms": 3_000_000,
                "medium": "video",
                "media": {"uri": f"s3://clinic/{run}/{n}.mp4", "sha256": media},
                "consent": {"scope": "supervision", "expires_at": "2030-01-01T00:00:00Z"},
                "external_id": f"{run}-{n}",
            }
        )
    return items


def by_reference(items: list[dict[str, Any]], therapists: list[str], run: str) -> list[dict[str, Any]]:
    """The items, each naming a case of its own by reference instead of by id: every one a new client."""
    return [
        {
            **{k: v for k, v in item.items() if k != "case_id"},
            "case": {"therapist_id": therapist, "external_ref": f"{run}-{n}"},
        }
        for n, (item, therapist) in enumerate(zip(items, itertools.cycle(therapists), strict=False))
    ]


def singles(base: str, key: str, items: list[dict[str, Any]]) -> float:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        started = time.perf_counter()
        for body in items:
            answer = client.post("/v1/recordings", json=body)
            assert answer.status_code == 201, answer.text
        return time.perf_counter() - started


def concurrent_singles(base: str, key: str, items: list[dict[str, Any]], connections: int = 16) -> float:
    async def go() -> float:
        limits = httpx.Limits(max_connections=connections)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
            queue = list(items)

            async def worker() -> None:
                while queue:
                    answer = await client.post("/v1/recordings", json=queue.pop())
                    assert answer.status_code == 201, answer.text

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return time.perf_counter() - started

    return asyncio.run(go())


def batch(base: str, key: str, items: list[dict[str, Any]], expect: str) -> float:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        client.get("/v1/me")  # connect first, as the singles' first request does not count its handshake either
        started = time.perf_counter()
        answer = client.post("/v1/recordings:batch", json={"items": items})
        elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()[expect] == len(items), answer.text[:500]
    return elapsed


def bench(label: str, url: str, args: argparse.Namespace) -> None:
    key = prepare(url)
    port = free_port()
    env = {
        "SUPERVISE_DATABASE_URL": url,
        "SUPERVISE_SECRET_KEY": SECRET,
        "SUPERVISE_RATE_LIMIT_PER_KEY": "1000000000/minute",
        "SUPERVISE_RATE_LIMIT_PER_ORGANISATION": "1000000000/minute",
        "SUPERVISE_RATE_LIMIT_PER_ADDRESS": "1000000000/minute",
    }
    proc = start_server("uvicorn", APP, port, env, None)
    base = f"http://127.0.0.1:{port}"
    times: dict[str, list[float]] = {
        "single": [],
        "single x16": [],
        "batch": [],
        "batch again": [],
        "batch, new cases": [],
    }
    try:
        cases, therapists = seed(base, key)
        for round_ in range(args.rounds):
            run = uuid.uuid4().hex[:8]
            times["single"].append(singles(base, key, recordings(cases, args.items, f"s{run}")))
            times["single x16"].append(concurrent_singles(base, key, recordings(cases, args.items, f"c{run}")))
            made = recordings(cases, args.items, f"b{run}")
            times["batch"].append(batch(base, key, made, "created"))
            times["batch again"].append(batch(base, key, made, "unchanged"))
            fresh = by_reference(recordings(cases, args.items, f"n{run}"), therapists, run)
            times["batch, new cases"].append(batch(base, key, fresh, "created"))
            row = ", ".join(f"{name} {values[-1]:.2f} s" for name, values in times.items())
            print(f"{label} round {round_ + 1}: {row}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
    baseline = statistics.median(times["single"])
    print(f"\n{label}, {args.items} recordings, median of {args.rounds} rounds")
    print("| way | seconds | recordings/s | time vs single |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {args.items / median:,.0f} | {median / baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            bench("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", args)
    if "postgresql" in backends:
        admin = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
        name = f"bench_batch_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg(admin, f'CREATE DATABASE "{name}"'))
        try:
            bench("PostgreSQL", admin.rsplit("/", 1)[0] + f"/{name}", args)
        finally:
            asyncio.run(_pg(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
