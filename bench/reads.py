"""What a read costs, against a bare Litestar endpoint measured next to it in the same run (issue 15).

    uv run python bench/reads.py [--seconds 4] [--concurrency 16] [--backends sqlite,postgresql]
                                 [--only NAME] [--profile DIR]

One uvicorn worker per row, every safeguard on: authentication, permissions, rate limits (counted in process,
with limits raised above what the load reaches so nothing is refused), the tenancy and visibility rules, and
the audited read (every one of these reads writes its audit event before answering). The load generator is
the keep-alive HTTP/1.1 client of ``data_layer.py``, 16 connections. The bare ceiling is measured right
before each row; the share of it is what to compare.

Rows: ``GET /v1/me``, ``GET /v1/rubrics/alliance``, ``GET /v1/members/{id}`` (an admin),
``GET /v1/recordings/{id}`` and ``GET /v1/reviews/{id}`` (the therapist, so blinding, consent and supervision
are evaluated), and ``GET /v1/reviews?limit=50`` (the therapist's page of 50 submitted reviews).

``--profile DIR`` records each row's server with ``py-spy record`` (run through ``uvx``, not a dependency)
and writes its collapsed stacks (flamegraph.pl input) per row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from data_layer import (
    SECRET,
    RequestFactory,
    _pg,
    free_port,
    get,
    measure,
    prepare,
    seed_reviews,
    start_server,
)

ROOT = Path(__file__).resolve().parents[1]
APP = "supervise.app:create_app_from_env"


def ids(url: str, admin_key: str, therapist_key: str) -> dict[str, str]:
    from litestar.testing import TestClient

    from supervise.app import create_app
    from supervise.config import Settings

    with TestClient(create_app(Settings(database_url=url, secret_key=SECRET))) as client:

        def first(key: str, path: str) -> str:
            response = client.get(path, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            return str(response.json()["items"][0]["id"])

        return {
            "member": first(admin_key, "/v1/members?limit=1"),
            "recording": first(therapist_key, "/v1/recordings?limit=1"),
            "review": first(therapist_key, "/v1/reviews?limit=1"),
        }


def rows(admin_key: str, therapist_key: str, made: dict[str, str]) -> list[tuple[str, RequestFactory]]:
    return [
        ("GET /v1/me", get("/v1/me", admin_key)),
        ("GET /v1/rubrics/alliance", get("/v1/rubrics/alliance", admin_key)),
        ("GET /v1/members/{id}", get(f"/v1/members/{made['member']}", admin_key)),
        ("GET /v1/recordings/{id}", get(f"/v1/recordings/{made['recording']}", therapist_key)),
        ("GET /v1/reviews/{id}", get(f"/v1/reviews/{made['review']}", therapist_key)),
        ("GET /v1/reviews?limit=50", get("/v1/reviews?limit=50", therapist_key)),
    ]


def timed(
    target: str,
    env: dict[str, str],
    make: RequestFactory,
    args: argparse.Namespace,
    app_dir: str | None,
    flame: Path | None,
) -> float:
    port = free_port()
    proc = start_server("uvicorn", target, port, env, app_dir)
    spy = None
    if flame is not None:
        spy = subprocess.Popen(
            [
                "uvx",
                "py-spy",
                "record",
                "--pid",
                str(proc.pid),
                "--rate",
                "250",
                "--output",
                str(flame),
                "--nonblocking",
                "--format",
                "raw",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        return asyncio.run(measure(port, make, args.seconds, args.concurrency))["rps"]
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        proc.terminate()
        proc.wait(10)


def backend(label: str, url: str, args: argparse.Namespace, out: list[tuple[str, str, float, float]]) -> None:
    admin_key = prepare(url)
    therapist_key = seed_reviews(url, admin_key)
    made = ids(url, admin_key, therapist_key)
    env = {
        "SUPERVISE_DATABASE_URL": url,
        "SUPERVISE_SECRET_KEY": SECRET,
        "SUPERVISE_RATE_LIMIT_PER_KEY": "1000000000/minute",
        "SUPERVISE_RATE_LIMIT_PER_ORGANISATION": "1000000000/minute",
    }
    for name, make in rows(admin_key, therapist_key, made):
        if args.only and args.only not in name:
            continue
        bare = timed("bare_app:create_app", {}, get("/bare"), args, str(ROOT / "bench"), None)
        flame = None
        if args.profile:
            slug = name.replace("/", "_").replace(" ", "").replace("?", "_").replace("{", "").replace("}", "")
            flame = Path(args.profile) / f"{label}{slug}.txt"
        rps = timed(APP, env, make, args, None, flame)
        out.append((label, name, rps, bare))
        print(f"{label:11} {name:26} {rps:8.0f} req/s  bare {bare:8.0f}  {rps / bare:6.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--only", default="", help="run only the rows whose name contains this")
    parser.add_argument("--profile", default="", help="directory for one py-spy profile (collapsed stacks) per row")
    args = parser.parse_args()
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    pg_admin = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    out: list[tuple[str, str, float, float]] = []
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            backend("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", args, out)
    if "postgresql" in args.backends:
        name = f"supervise_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg(pg_admin, f'CREATE DATABASE "{name}"'))
        try:
            backend("postgresql", pg_admin.rsplit("/", 1)[0] + f"/{name}", args, out)
        finally:
            asyncio.run(_pg(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"\nconcurrency={args.concurrency} seconds={args.seconds}")
    print(f"| endpoint | {' | '.join(sorted({b for b, *_ in out}, reverse=True))} |")
    for name in dict.fromkeys(n for _, n, *_ in out):
        cells = [f"{rps:,.0f} ({rps / bare:.1%})" for b, n, rps, bare in sorted(out, reverse=True) if n == name]
        print(f"| `{name}` | {' | '.join(cells)} |")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    main()
