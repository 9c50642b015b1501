"""Aggregates at scale: the team view and a therapist's series from rollups, against the raw GROUP BY they
replace and against a bare Litestar endpoint, on SQLite and PostgreSQL, in one run.

    uv run python bench/aggregates.py [--scores 1000000] [--big] [--seconds 4] [--backends sqlite,postgresql]

Generates one organisation (100 therapists under 10 supervisors, sessions over two years, each rated by a
supervisor, a peer and the therapist with the seed `alliance` rubric: 12 measures per review) straight into
the tables, builds the rollups with one GROUP BY (the product keeps them current at each submission; tests
prove the two agree), checks that the answers equal the raw computation, then measures p50/p99 of:

  (a) the team view (organisation-wide) and one therapist's monthly series: in process and over HTTP;
  (b) the same answers computed by a plain GROUP BY over the raw scores;
  (c) the raw SQL read of the rollup rows behind them;
  (d) a bare Litestar endpoint returning a small struct over HTTP (the ceiling of the stack), at the start and
      again just before each HTTP row, whose share is taken of that adjacent ceiling.

``--big`` adds a 10,000,000-score organisation and reports its team-view p50 against the 1M one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import msgspec  # noqa: E402
from data_layer import SECRET, _pg, free_port, get, measure, prepare, start_server  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from supervise import cache  # noqa: E402
from supervise.aggregates import disclosure, shared, views  # noqa: E402
from supervise.aggregates import repository as aggregates  # noqa: E402
from supervise.aggregates.schemas import TeamView  # noqa: E402
from supervise.aggregates.stats import summarise  # noqa: E402
from supervise.auth.principal import Principal, Role  # noqa: E402
from supervise.cli import _create_org  # noqa: E402
from supervise.config import Settings  # noqa: E402
from supervise.members.tables import Member, SupervisionLink  # noqa: E402
from supervise.recordings.tables import Case, Recording  # noqa: E402
from supervise.reviews.tables import Review  # noqa: E402
from supervise.runtime import Runtime  # noqa: E402
from supervise.scores import periods  # noqa: E402
from supervise.scores import repository as rollups  # noqa: E402
from supervise.scores import sessions as session_rollups  # noqa: E402
from supervise.scores.tables import ReviewScore, RollupMonth, RollupTotal  # noqa: E402

ITEMS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]
SUBSCALES = {
    "bond": ["rapport", "trust", "warmth", "understood"],
    "partnership": ["collaboration", "respect", "empowerment"],
    "responsiveness": ["flexibility"],
}
MEASURES = len(ITEMS) + len(SUBSCALES) + 1
ROLES = ("supervisor", "peer", "self")
START = dt.datetime(2024, 12, 1, 9, tzinfo=dt.UTC)


async def generate(runtime: Runtime, org_id: uuid.UUID, scores: int, seed: int = 1) -> uuid.UUID:
    """Insert the organisation's people, sessions, reviews and scores; returns one therapist's id."""
    rng = random.Random(seed)
    reviews_wanted = scores // MEASURES
    sessions = reviews_wanted // len(ROLES)
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
    batch = 2_000
    for first in range(0, sessions, batch):
        recordings, reviews, values = [], [], []
        for number in range(first, min(first + batch, sessions)):
            therapist_index = number % len(therapists)
            therapist, case = therapists[therapist_index], cases[therapist_index]
            occurred = START + dt.timedelta(minutes=rng.randrange(0, 730 * 24 * 60))
            recording_id = uuid.uuid4()
            recordings.append({
                "id": recording_id, "org_id": org_id, "case_id": case["id"], "therapist_id": therapist["id"],
                "occurred_at": occurred, "session_number": number // len(therapists) + 1, "duration_ms": 3_000_000,
                "medium": "video", "media_uri": f"s3://b/{number}", "media_sha256": "0" * 64,
                "consent_scope": "supervision", "consent_expires_at": None, "consent_withdrawn_at": None,
                "external_id": None, "version": 1, "created_at": now, "updated_at": now,
            })  # fmt: skip
            raters = {
                "supervisor": supervisors[therapist_index % 10]["id"],
                "peer": therapists[(therapist_index + 1) % len(therapists)]["id"],
                "self": therapist["id"],
            }
            for role, reviewer in raters.items():
                review_id = uuid.uuid4()
                items = {item: rng.randint(1, 7) for item in ITEMS}
                scored = {key: sum(items[i] for i in keys) / len(keys) for key, keys in SUBSCALES.items()}
                scored["total"] = sum(items.values()) / len(items)
                reviews.append({
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
                    "local_day": occurred.astimezone(dt.UTC).date(),  # the organisation is on UTC
                }  # fmt: skip
                values += [{**base, "measure_kind": "item", "measure": k, "value": float(v)} for k, v in items.items()]
                values += [{**base, "measure_kind": "score", "measure": k, "value": v} for k, v in scored.items()]
        async with runtime.db.transaction() as tx:
            await tx.execute(insert(Recording), recordings)
            await tx.execute(insert(Review), reviews)
            await tx.execute(insert(ReviewScore), values)
    async with runtime.db.transaction() as tx:
        for table in periods.ROLLUPS:
            fresh = await rollups.recomputed(tx, table, [org_id]) | await session_rollups.recomputed(
                tx, table, [org_id]
            )
            keys = ["org_id", "therapist_id", "rubric_key", "rubric_version", "measure_kind", "measure", "role"]
            if table is not RollupTotal:
                keys.append("day")
            rows = [
                {**dict(zip(keys, key, strict=True)), "n": n, "total": s, "total_sq": sq, "min": lo, "max": hi}
                for key, (n, s, sq, lo, hi) in fresh.items()
            ]
            for first in range(0, len(rows), 5_000):
                await tx.execute(insert(table), rows[first : first + 5_000])
        if runtime.db.engine.dialect.name == "postgresql":
            await tx.execute(text("ANALYZE"))
    return therapists[0]["id"]  # type: ignore[no-any-return]


async def timed(call: Callable[[], Awaitable[Any]], seconds: float) -> dict[str, float]:
    latencies = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(latencies) < 5:
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "rps": len(latencies) / sum(latencies) * 1000,
    }


OBSERVERS = ("supervisor", "peer", "client")


def raw_team(org_id: uuid.UUID) -> Any:
    return (
        select(
            ReviewScore.therapist_id,
            ReviewScore.measure_kind,
            ReviewScore.measure,
            func.count(),
            func.sum(ReviewScore.value),
            func.sum(ReviewScore.value * ReviewScore.value),
            func.min(ReviewScore.value),
            func.max(ReviewScore.value),
        )
        .where(
            ReviewScore.org_id == org_id,
            ReviewScore.rubric_key == "alliance",
            ReviewScore.rubric_version == "1.0",
            ReviewScore.role.in_(OBSERVERS),
        )
        .group_by(ReviewScore.therapist_id, ReviewScore.measure_kind, ReviewScore.measure)
    )


def raw_series(org_id: uuid.UUID, therapist_id: uuid.UUID) -> Any:
    day = ReviewScore.local_day
    return (
        select(
            ReviewScore.measure_kind,
            ReviewScore.measure,
            day,
            func.count(),
            func.sum(ReviewScore.value),
            func.sum(ReviewScore.value * ReviewScore.value),
            func.min(ReviewScore.value),
            func.max(ReviewScore.value),
        )
        .where(
            ReviewScore.org_id == org_id,
            ReviewScore.rubric_key == "alliance",
            ReviewScore.rubric_version == "1.0",
            ReviewScore.therapist_id == therapist_id,
            ReviewScore.role.in_(OBSERVERS),
        )
        .group_by(ReviewScore.measure_kind, ReviewScore.measure, day)
    )


async def check_identical(runtime: Runtime, principal: Principal) -> None:
    """The team view equals the statistics of the raw scores, sessions averaged first, cell by cell."""
    async with runtime.db.transaction() as tx:
        view = msgspec.json.decode((await team(runtime, principal)(tx)).json, type=TeamView)
        per_session: dict[tuple[Any, ...], list[float]] = {}
        for therapist, kind, measure, recording, value in await tx.execute(raw_scores(principal.org_id)):
            per_session.setdefault((therapist, kind, measure, recording), []).append(value)
    raw: dict[tuple[Any, ...], list[float]] = {}
    for (therapist, kind, measure, _recording), values in per_session.items():
        raw.setdefault((therapist, kind, measure), []).append(sum(values) / len(values))
    cells = 0
    for therapist in view.therapists:
        for cell in therapist.cells:
            means = raw[(therapist.therapist_id, cell.kind, cell.key)]
            assert cell.n == len(means), cell
            if not cell.suppressed:
                assert cell.min == min(means) and cell.max == max(means), cell
                assert cell.mean is not None and abs(cell.mean - sum(means) / len(means)) < 1e-9, cell
            cells += 1
    assert cells == len(raw), (cells, len(raw))


def raw_scores(org_id: uuid.UUID) -> Any:
    return select(
        ReviewScore.therapist_id, ReviewScore.measure_kind, ReviewScore.measure, ReviewScore.recording_id,
        ReviewScore.value,
    ).where(
        ReviewScore.org_id == org_id,
        ReviewScore.rubric_key == "alliance",
        ReviewScore.rubric_version == "1.0",
        ReviewScore.role.in_(OBSERVERS),
    )  # fmt: skip


def team_by_review(org_id: uuid.UUID) -> Callable[[Any], Awaitable[Any]]:
    """What the team view did before it counted sessions: the all-time rollups summed over the observers, and
    statistics per cell (no sweep, no audit: only the part that changed)."""

    async def call(tx: Any) -> Any:
        rows = await aggregates.read_sums(
            tx, org_id, None, "alliance", "1.0", OBSERVERS, None, None, grain="month", by_period=False
        )
        return [shared.stats(summarise(r.n, r.total, r.total_sq, r.low, r.high)) for r in rows]

    return call


def team_by_session(org_id: uuid.UUID) -> Callable[[Any], Awaitable[Any]]:
    """The part of the team view that replaced it: the all-time session rollups of the observers, the months
    withheld on their own (complementary suppression), the reviews from the all-time rollups, and statistics."""

    async def call(tx: Any) -> Any:
        totals = await aggregates.read_sums(
            tx, org_id, None, "alliance", "1.0", ("s:observers",), None, None, grain="month", by_period=False
        )
        reviews = await aggregates.read_sums(
            tx, org_id, None, "alliance", "1.0", OBSERVERS, None, None, grain="month", by_period=False
        )
        withheld = await disclosure.withheld_months(tx, org_id, None, "alliance", "1.0", "s:observers", 5)
        cells: dict[Any, shared.Sums] = {}
        for r in totals:
            cells.setdefault((r.therapist_id, r.kind, r.measure), shared.Sums()).add(
                r.n, r.total, r.total_sq, r.low, r.high, 0
            )
        for r in reviews:
            cells[(r.therapist_id, r.kind, r.measure)].reviews += r.n
        return [shared.stats(s.summary()) for s in cells.values()], withheld

    return call


def team(runtime: Runtime, principal: Principal) -> Callable[[Any], Awaitable[Any]]:
    return lambda tx: views.team_view(
        tx,
        runtime,
        principal,
        supervisor_id=None,
        rubric_key="alliance",
        version="1.0",  # the generated reviews' version (not necessarily the latest installed)
        role="observers",
        date_from=None,
        date_to=None,
    )


def series(
    runtime: Runtime, principal: Principal, therapist: uuid.UUID, unit: Any = "session"
) -> Callable[[Any], Awaitable[Any]]:
    return lambda tx: views.therapist_series(
        tx,
        runtime,
        principal,
        therapist,
        rubric_key="alliance",
        version="1.0",  # the generated reviews' version (not necessarily the latest installed)
        bucket="month",
        role="observers",
        unit=unit,
        date_from=None,
        date_to=None,
    )


def cached(
    runtime: Runtime, principal: Principal, make: Callable[[Any], Awaitable[Any]]
) -> Callable[[Any], Awaitable[Any]]:
    """The call as a request makes it: with the organisation's change counter read first, so an answer computed
    since the last change is reused (the "in process" rows recompute from the rollups every time)."""

    async def call(tx: Any) -> Any:
        tx.info[cache.GENERATION] = (principal.org_id, await runtime.generations.read(principal.org_id))
        return await make(tx)

    return call


async def in_process(runtime: Runtime, seconds: float, make: Callable[[Any], Awaitable[Any]]) -> dict[str, float]:
    async def once() -> None:
        async with runtime.transaction() as tx:  # commits, then audits the read (group commit)
            await make(tx)

    return await timed(once, seconds)


def http_row(url: str, target: str, path: str, key: str, args: argparse.Namespace, app_dir: str | None = None):  # type: ignore[no-untyped-def]
    env = {"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
    # The limits are no part of what is measured: one key from 16 connections passes 6,000 a minute.
    env |= {f"SUPERVISE_RATE_LIMIT_PER_{what}": "100000000/minute" for what in ("KEY", "ORGANISATION", "ADDRESS")}
    port = free_port()
    proc = start_server("uvicorn", target, port, env, app_dir)
    try:
        return asyncio.run(measure(port, get(path, key), args.seconds, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(10)


def bare_row(args: argparse.Namespace) -> dict[str, float]:
    return http_row("", "bare_app:create_app", "/bare", "", args, app_dir=str(ROOT / "bench"))  # type: ignore[no-any-return]


async def _all(tx: Any, stmt: Any) -> list[Any]:
    return list(await tx.execute(stmt))


async def measure_in_process(
    settings: Settings, label: str, admin: Principal, size: int, seconds: float
) -> tuple[list[tuple[str, dict[str, float]]], uuid.UUID]:
    runtime = Runtime.build(settings)
    org_id = admin.org_id
    started = time.perf_counter()
    therapist = await generate(runtime, org_id, size)
    print(f"[{label}] generated in {time.perf_counter() - started:.0f} s", flush=True)
    await check_identical(runtime, admin)
    total_rows = select(*RollupTotal.__table__.columns).where(
        RollupTotal.org_id == org_id, RollupTotal.role.in_(OBSERVERS)
    )
    month_rows = select(*RollupMonth.__table__.columns).where(
        RollupMonth.org_id == org_id, RollupMonth.therapist_id == therapist, RollupMonth.role.in_(OBSERVERS)
    )
    raw_series_stmt = raw_series(org_id, therapist)
    raw_team_stmt = raw_team(org_id)
    rows = []
    for scenario, make in (
        ("team view, in process", team(runtime, admin)),
        ("team view, in process, cached", cached(runtime, admin, team(runtime, admin))),
        ("team view, raw GROUP BY", lambda tx: _all(tx, raw_team_stmt)),
        ("team view, rollup rows read", lambda tx: _all(tx, total_rows)),
        ("team view figures, per review (rollups)", team_by_review(org_id)),
        ("team view figures, per session", team_by_session(org_id)),
        ("series, in process", series(runtime, admin, therapist)),
        ("series, in process, unit=review", series(runtime, admin, therapist, "review")),
        ("series, in process, cached", cached(runtime, admin, series(runtime, admin, therapist))),
        ("series, raw GROUP BY", lambda tx: _all(tx, raw_series_stmt)),
        ("series, rollup rows read", lambda tx: _all(tx, month_rows)),
    ):
        rows.append((f"{label} {scenario}", await in_process(runtime, seconds, make)))
    await runtime.close()
    return rows, therapist


def bench_backend(
    name: str, url: str, sizes: list[int], args: argparse.Namespace
) -> list[tuple[str, dict[str, float]]]:
    prepare(url)  # migrations
    settings = Settings(database_url=url, secret_key=SECRET)
    rows: list[tuple[str, dict[str, float]]] = []
    for size in sizes:
        label = f"{name} {size // 1_000_000}M"
        made = asyncio.run(_create_org(settings, f"Bench {size}", "Admin", f"admin-{size}@bench.example"))
        admin = Principal(
            uuid.UUID(made["org_id"]), uuid.UUID(made["member_id"]), uuid.uuid4(), frozenset({Role.ADMIN}), None
        )
        measured, therapist = asyncio.run(measure_in_process(settings, label, admin, size, args.seconds))
        rows += measured
        target = "supervise.app:create_app_from_env"
        key = made["api_key"]
        series_path = f"/v1/aggregates/therapists/{therapist}/series?rubric=alliance&version=1.0"
        team_path = "/v1/aggregates/team?rubric=alliance&version=1.0"
        for kind, path in (("team view", team_path), ("series", series_path)):
            # The ceiling again, just before: the machine's speed drifts within a run, the pair's ratio much less.
            rows.append((f"{label} {kind}, HTTP, its bare ceiling", bare_row(args)))
            rows.append((f"{label} {kind}, HTTP", http_row(url, target, path, key, args)))
    if len(sizes) > 1:
        by = dict(rows)
        for kind in ("team view, in process", "team view, in process, cached"):
            small, big = (f"{name} {s // 1_000_000}M {kind}" for s in (sizes[0], sizes[-1]))
            ratio = by[big]["p50_ms"] / by[small]["p50_ms"]
            print(f"[{name}] {kind}: p50 at {sizes[-1]:,} vs {sizes[0]:,} scores: {ratio:.2f}x")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="also a 10,000,000-score organisation")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [args.scores] + ([10_000_000] if args.big else [])
    pg_admin = os.environ.get("SUPERVISE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

    rows: list[tuple[str, dict[str, float]]] = [("bare Litestar GET, HTTP", bare_row(args))]
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rows += bench_backend("sqlite", f"sqlite+aiosqlite:///{tmp}/agg.db", sizes, args)
        else:
            name = f"supervise_agg_{uuid.uuid4().hex[:8]}"
            asyncio.run(_pg(pg_admin, f'CREATE DATABASE "{name}"'))
            try:
                rows += bench_backend("postgresql", pg_admin.rsplit("/", 1)[0] + f"/{name}", sizes, args)
            finally:
                asyncio.run(_pg(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    print(f"\n{'scenario':44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for label, row in rows:
        print(f"{label:44} {row['rps']:9.0f} {row['p50_ms']:9.3f} {row['p99_ms']:9.3f}")
    print("\nratios:")
    by = dict(rows)
    for label, _ in rows:
        if label.endswith("team view, in process"):
            prefix = label.removesuffix(" team view, in process")
            raw = by[f"{prefix} team view, raw GROUP BY"]["p50_ms"]
            for kind in ("team view, in process", "team view, in process, cached"):
                speed = raw / by[f"{prefix} {kind}"]["p50_ms"]
                print(f"  {prefix}: {kind} {speed:.0f}x faster than its raw GROUP BY (p50)")
            series_raw = by[f"{prefix} series, raw GROUP BY"]["p50_ms"]
            for kind in ("series, in process", "series, in process, cached"):
                speed = series_raw / by[f"{prefix} {kind}"]["p50_ms"]
                print(f"  {prefix}: {kind} {speed:.1f}x faster than its raw GROUP BY (p50)")
            for now, before in (
                ("series, in process", "series, in process, unit=review"),
                ("team view figures, per session", "team view figures, per review (rollups)"),
            ):
                ratio = by[f"{prefix} {now}"]["p50_ms"] / by[f"{prefix} {before}"]["p50_ms"]
                print(f"  {prefix}: {now} at {ratio:.1f}x the p50 of {before}")
            for kind in ("series", "team view"):
                share = by[f"{prefix} {kind}, HTTP"]["rps"] / by[f"{prefix} {kind}, HTTP, its bare ceiling"]["rps"]
                print(f"  {prefix}: {kind} over HTTP at {share:.1%} of the bare ceiling measured just before it")


if __name__ == "__main__":
    main()
