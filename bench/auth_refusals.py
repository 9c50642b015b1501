"""How long a refused API key takes, by why it is refused: an unknown key id, or a known one with a wrong secret.

    uv run python bench/auth_refusals.py [--requests 2000] [--backends sqlite,postgresql]

In process (Litestar's test client), one organisation, its admin's key used twice first so it is remembered.
The two refusals alternate request by request, so the machine's drift falls on both; the report is each one's
median and their ratio. Equal work means a ratio near 1: the time of a refusal must not say which key ids
exist. PostgreSQL: SUPERVISE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test; a scratch
database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alembic import command  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from supervise.app import create_app  # noqa: E402
from supervise.cli import _create_org  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.db import alembic_config, asyncpg_dsn  # noqa: E402

SECRET = "bench-secret-key-" * 3


def measure(url: str, requests: int) -> tuple[float, float]:
    settings = Settings(database_url=url, secret_key=SECRET)
    command.upgrade(alembic_config(settings), "head")
    made = asyncio.run(_create_org(settings, "Bench clinic", "Admin", "admin@bench.example"))
    _, key_hex, secret = made["api_key"].split("_", 2)
    tokens = {"unknown id": f"svk_{uuid.uuid4().hex}_{secret}", "wrong secret": f"svk_{key_hex}_{'x' * len(secret)}"}
    times: dict[str, list[float]] = {name: [] for name in tokens}
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            assert client.get("/v1/me", headers={"Authorization": f"Bearer {made['api_key']}"}).status_code == 200
        for i in range(requests + 100):
            for name, token in tokens.items():
                started = time.perf_counter()
                status = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
                elapsed = time.perf_counter() - started
                assert status == 401
                if i >= 100:  # warmed up
                    times[name].append(elapsed)
    unknown, wrong = (statistics.median(times[name]) * 1e3 for name in tokens)
    return unknown, wrong


async def _admin(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                unknown, wrong = measure(f"sqlite:///{tmp}/bench.db", args.requests)
        else:
            base = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
            name = f"supervise_bench_{uuid.uuid4().hex[:8]}"
            admin = asyncpg_dsn(Settings(database_url=base).url)
            asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
            try:
                unknown, wrong = measure(base.rsplit("/", 1)[0] + "/" + name, args.requests)
            finally:
                asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(
            f"{backend}: unknown id {unknown:.3f} ms, wrong secret {wrong:.3f} ms (median), ratio {wrong / unknown:.2f}"
        )


if __name__ == "__main__":
    main()
