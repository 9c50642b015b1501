"""What the rate limits cost a request: ``GET /v1/me`` with no limits counted, counted in the process, and counted
in Redis.

    uv run python bench/rate_limits.py [--requests 3000] [--redis redis://127.0.0.1:6379/15]

In process (Litestar's test client), SQLite, one organisation's admin key. The three applications share one
database and take turns request by request, so the machine's drift falls on all three; the report is each
one's median and its ratio to the baseline, the application whose limits count nothing (its ``Throttle``
replaced by one that answers at once; only here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alembic import command  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from supervise.app import create_app  # noqa: E402
from supervise.cli import _create_org  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.db import alembic_config  # noqa: E402
from supervise.throttle import Limited  # noqa: E402

SECRET = "bench-secret-key-" * 3


class Uncounted:
    """A throttle that counts nothing: the baseline."""

    async def caller(self, api_key_id: uuid.UUID, org_id: uuid.UUID) -> Limited | None:
        return None

    async def anonymous(self, address: str | None) -> Limited | None:
        return None

    async def close(self) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        base = Settings(database_url=url, secret_key=SECRET)
        command.upgrade(alembic_config(base), "head")
        key = asyncio.run(_create_org(base, "Bench clinic", "Admin", "admin@bench.example"))["api_key"]
        variants = {
            "uncounted": base,
            "in process": base,
            "in Redis": Settings(database_url=url, secret_key=SECRET, redis_url=args.redis),
        }
        apps = {name: create_app(settings) for name, settings in variants.items()}
        object.__setattr__(apps["uncounted"].state["runtime"], "throttle", Uncounted())
        times: dict[str, list[float]] = {name: [] for name in apps}
        headers = {"Authorization": f"Bearer {key}"}
        clients = {name: TestClient(app) for name, app in apps.items()}
        for client in clients.values():
            client.__enter__()
        try:
            for i in range(args.requests + 200):
                for name, client in clients.items():
                    started = time.perf_counter()
                    status = client.get("/v1/me", headers=headers).status_code
                    elapsed = time.perf_counter() - started
                    assert status == 200, (name, status)
                    if i >= 200:  # warmed up
                        times[name].append(elapsed)
        finally:
            for client in clients.values():
                client.__exit__(None, None, None)
    medians = {name: statistics.median(values) * 1e6 for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:>10}: {median:7.1f} µs (median), {median / medians['uncounted']:.2f}x uncounted")


if __name__ == "__main__":
    main()
