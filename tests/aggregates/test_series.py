"""Series and team views from rollups: equal to statistics over the raw values, kept exact through
amendments, visible by the review rules, small cells withheld; and the rollups equal a full recomputation."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
import random
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import time_machine
from alembic import command
from click.testing import CliRunner
from litestar.testing import TestClient
from scipy import stats as scipy_stats
from sqlalchemy import func, select, table, update

from supervise.app import create_app
from supervise.cli import _verify_rollups, main
from supervise.config import Settings
from supervise.db import Database, alembic_config
from supervise.scores.tables import ReviewScore, RollupMonth, RollupTotal, RollupWeek
from tests.conftest import SECRET, fresh_database
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, RUBRIC, Team, complete, make_team
from tests.support import Org, Person, make_org
from tests.test_http import assert_problem

DATES = ["2026-01-05", "2026-01-20", "2026-02-10", "2026-04-02", "2026-04-03", "2026-07-15", "2026-07-16"]


def session(team: Team, number: int, day: str) -> str:
    body = recording_body(team.case_id, session_number=number, occurred_at=f"{day}T10:00:00Z")
    made = team.therapist.api.post("/v1/recordings", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def review(person: Person, recording_id: str, values: dict[str, int]) -> dict[str, Any]:
    started = person.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": RUBRIC})
    assert started.status_code == 201, started.text
    url = f"/v1/reviews/{started.json()['id']}"
    saved = person.api.patch(url, json={"responses": {"items": values}}, headers={"If-Match": '"1"'})
    assert saved.status_code == 200, saved.text
    submitted = person.api.post(f"{url}/submit")
    assert submitted.status_code == 200, submitted.text
    return dict(submitted.json())


def seeded(org: Org, seed: int) -> tuple[Team, list[tuple[str, str, dict[str, int]]]]:
    """A therapist with sessions on DATES, each rated by the supervisor and by the therapist; returns what
    was rated: (role, day, values)."""
    rng = random.Random(seed)
    team = make_team(org)
    rated = []
    for number, day in enumerate(DATES, start=10):
        recording_id = session(team, number, day)
        for person, role in ((team.supervisor, "supervisor"), (team.therapist, "self")):
            values = {item: rng.randint(1, 7) for item in ITEMS}
            review(person, recording_id, values)
            rated.append((role, day, values))
    return team, rated


def expected(values: list[float]) -> dict[str, Any]:
    array = np.array(values, dtype=float)
    out: dict[str, Any] = {
        "n": len(values),
        "mean": float(array.mean()),
        "min": float(array.min()),
        "max": float(array.max()),
    }
    if len(values) > 1:
        out["sd"] = float(array.std(ddof=1))
    if len(values) > 2:  # no interval below 3 values; one past the 1-7 scale is cut to it
        low, high = (
            scipy_stats.t.interval(0.95, len(values) - 1, loc=array.mean(), scale=scipy_stats.sem(array))
            if out["sd"] > 0
            else (out["mean"], out["mean"])
        )
        out["ci95"] = [max(low, 1.0), min(high, 7.0)]
        out["ci95_clipped"] = bool(low < 1.0 or high > 7.0)
    return out


def close(got: dict[str, Any], want: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key == "ci95":
            if not all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(got[key], value, strict=True)):
                return False
        elif key == "ci95_clipped":
            if got[key] is not value:
                return False
        elif not math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


def test_series_equal_statistics_over_the_raw_values(org: Org) -> None:
    team, rated = seeded(org, seed=7)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    for bucket, start in (
        ("month", lambda d: d.replace(day=1)),
        ("week", lambda d: d - dt.timedelta(days=d.weekday())),
        ("quarter", lambda d: dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1)),
        ("all", lambda d: None),
    ):
        for role, roles in (("supervisor", {"supervisor"}), ("self", {"self"}), ("observers", {"supervisor"})):
            answer = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": bucket, "role": role})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["rubric"] == {"key": RUBRIC, "version": "1.1"}
            by_measure = {(m["kind"], m["key"]): m for m in body["measures"]}
            for item in ITEMS:
                raw: dict[Any, list[float]] = defaultdict(list)
                for who, day, values in rated:
                    if who in roles:
                        raw[start(dt.date.fromisoformat(day))].append(values[item])
                got = {
                    (b["start"] and dt.date.fromisoformat(b["start"])): b for b in by_measure[("item", item)]["buckets"]
                }
                assert set(got) == set(raw), (bucket, role, item)
                for key, values in raw.items():
                    assert close(got[key], expected(values)), (bucket, role, item, key, got[key], values)
    # scores too: the total is the mean of the eight items, per review
    month = team.therapist.api.get(url, params={"rubric": RUBRIC, "bucket": "all", "role": "self"}).json()
    totals = [sum(values.values()) / len(ITEMS) for who, _, values in rated if who == "self"]
    total = next(m for m in month["measures"] if m["key"] == "total")
    assert close(total["buckets"][0], expected(totals))
    # date range: both ends included, by the session's day
    ranged = team.therapist.api.get(
        url, params={"rubric": RUBRIC, "bucket": "all", "role": "self", "from": "2026-04-02", "to": "2026-04-03"}
    ).json()
    assert next(m for m in ranged["measures"] if m["key"] == "total")["buckets"][0]["n"] == 2


EDGES = [None, "2026-01-01", "2026-01-05", "2026-01-06", "2026-01-19", "2026-01-20", "2026-01-31", "2026-02-01",
         "2026-02-10", "2026-03-30", "2026-04-02", "2026-04-03", "2026-04-30", "2026-07-16", "2026-12-31"]  # fmt: skip


def test_date_ranges_that_cut_weeks_and_months_count_each_session_once(org: Org) -> None:
    """Series per review read whole weeks or months from their rollups and the days at cut edges from the
    daily ones, series per session read the scores: for ranges starting and ending anywhere, the figures equal
    those over the raw values."""
    team, rated = seeded(org, seed=11)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    rng = random.Random(5)
    pairs = [(a, b) for a in EDGES for b in EDGES if a is None or b is None or a <= b]
    starts = {
        "week": lambda d: d - dt.timedelta(days=d.weekday()),
        "month": lambda d: d.replace(day=1),
        "quarter": lambda d: dt.date(d.year, (d.month - 1) // 3 * 3 + 1, 1),
        "all": lambda d: None,
    }
    for date_from, date_to in rng.sample(pairs, 40):
        inside = [
            (day, values)
            for who, day, values in rated
            if who == "supervisor" and (date_from or day) <= day <= (date_to or day)
        ]
        bounds = {k: v for k, v in (("from", date_from), ("to", date_to)) if v is not None}
        for (bucket, start), unit in itertools.product(starts.items(), ("session", "review")):
            # one review per session: per session (from the scores) equals per review (from the rollups)
            answer = team.supervisor.api.get(
                url, params={"rubric": RUBRIC, "bucket": bucket, "role": "supervisor", "unit": unit, **bounds}
            )
            assert answer.status_code == 200, answer.text
            trust = next(m for m in answer.json()["measures"] if m["key"] == "trust")
            raw: dict[Any, list[float]] = defaultdict(list)
            for day, values in inside:
                raw[start(dt.date.fromisoformat(day))].append(values["trust"])
            got = {(b["start"] and dt.date.fromisoformat(b["start"])): b for b in trust["buckets"]}
            assert set(got) == set(raw), (date_from, date_to, bucket, unit)
            for key, values in raw.items():
                assert close(got[key], expected(values)), (date_from, date_to, bucket, key, unit)
                assert got[key]["reviews"] == len(values)


def test_an_amendment_replaces_the_earlier_values_exactly(org: Org) -> None:
    team = make_team(org)
    recording_id = session(team, 10, "2026-03-03")
    first = review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 2))
    other = session(team, 11, "2026-03-04")
    review(team.supervisor, other, dict.fromkeys(ITEMS, 6))
    amend = team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "misread"}).json()
    url = f"/v1/reviews/{amend['id']}"
    assert team.supervisor.api.patch(
        url, json={"responses": {"items": dict.fromkeys(ITEMS, 5)}}, headers={"If-Match": '"1"'}
    )
    assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    series = team.supervisor.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/series", params={"rubric": RUBRIC, "bucket": "all"}
    ).json()
    rapport = next(m for m in series["measures"] if m["key"] == "rapport")["buckets"][0]
    assert (rapport["n"], rapport["mean"], rapport["min"], rapport["max"]) == (2, 5.5, 5.0, 6.0)


def test_who_sees_a_series(org: Org) -> None:
    team, _ = seeded(org, seed=3)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    params = {"rubric": RUBRIC}
    for person in (team.therapist, team.supervisor, org.admin):
        assert person.api.get(url, params=params).status_code == 200
    for person in (team.peer, team.bystander):
        assert_problem(person.api.get(url, params=params), 404)
    assert_problem(team.supervisor.api.get(url, params={"rubric": "nope"}), 422)
    assert_problem(team.supervisor.api.get(url, params={"rubric": RUBRIC, "version": "9"}), 422)
    assert_problem(team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "day"}), 400)
    assert_problem(
        team.supervisor.api.get(url, params={"rubric": RUBRIC, "from": "2026-05-01", "to": "2026-04-01"}), 422
    )
    assert_problem(team.supervisor.api.get(url), 400)  # the rubric is required


def test_team_view_withholds_small_cells_and_keeps_to_the_team(org: Org, other_org: Org) -> None:
    team, _ = seeded(org, seed=5)  # the supervisor rated 7 sessions of the therapist
    second = org.member("clinician")
    assert (
        org.admin.api.post(
            "/v1/supervision-links", json={"supervisor_id": team.supervisor.id, "supervisee_id": second.id}
        ).status_code
        == 201
    )
    case = second.api.post("/v1/cases", json={"therapist_id": second.id, "external_ref": "C-2"}).json()
    for number in range(2):
        made = second.api.post("/v1/recordings", json=recording_body(case["id"], session_number=number + 1)).json()
        review(team.supervisor, made["id"], dict.fromkeys(ITEMS, 4))
    view = team.supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC})
    assert view.status_code == 200, view.text
    rows = {row["therapist_id"]: row for row in view.json()["therapists"]}
    assert set(rows) == {team.therapist.id, second.id}
    shown = rows[team.therapist.id]["cells"][0]
    assert (shown["n"], shown["suppressed"]) == (7, False) and shown["mean"] is not None
    hidden = rows[second.id]["cells"][0]
    assert (hidden["n"], hidden["suppressed"], hidden["mean"], hidden["ci95"]) == (2, True, None, None)
    assert view.json()["min_cell_sessions"] == 5
    # a range is one whole calendar month (July holds 2 of the 7 sessions), never a span of months
    july = {"rubric": RUBRIC, "from": "2026-07-01", "to": "2026-07-31"}
    ranged = team.supervisor.api.get("/v1/aggregates/team", params=july).json()
    cell = {r["therapist_id"]: r for r in ranged["therapists"]}[team.therapist.id]["cells"][0]
    assert (cell["n"], cell["suppressed"], cell["mean"]) == (2, True, None)
    span = team.supervisor.api.get(
        "/v1/aggregates/team", params={"rubric": RUBRIC, "from": "2000-01-01", "to": "2100-01-01"}
    )
    assert [e["field"] for e in assert_problem(span, 422)["errors"]] == ["to"]
    # another supervisor's team is not yours; admins see any, or the whole organisation
    other_supervisor = org.member("supervisor")
    assert_problem(
        other_supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC, "supervisor_id": team.supervisor.id}),
        403,
    )
    assert other_supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC}).json()["therapists"] == []
    whole = org.admin.api.get("/v1/aggregates/team", params={"rubric": RUBRIC}).json()
    assert {r["therapist_id"] for r in whole["therapists"]} == {team.therapist.id, second.id}
    assert other_org.admin.api.get("/v1/aggregates/team", params={"rubric": RUBRIC}).json()["therapists"] == []


def test_rollups_equal_a_full_recomputation(org: Org, settings: Settings) -> None:
    team, _ = seeded(org, seed=11)
    # an amendment and a second rater on the same day
    reviews = team.supervisor.api.get("/v1/reviews", params={"reviewer": "me"}).json()["items"]
    amend = team.supervisor.api.post(f"/v1/reviews/{reviews[0]['id']}/amend", json={"reason": "x"}).json()
    complete(team.supervisor, amend, value=1)
    scores, mismatches = asyncio.run(_verify_rollups(settings))
    assert scores > 0 and mismatches == []
    env = {"SUPERVISE_DATABASE_URL": settings.url, "SUPERVISE_SECRET_KEY": SECRET}
    good = CliRunner().invoke(main, ["db", "verify-rollups"], env=env)
    assert good.exit_code == 0 and "rollups match" in good.output

    async def tamper(by: int) -> None:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                await tx.execute(
                    update(RollupTotal)
                    .where(RollupTotal.therapist_id == uuid.UUID(team.therapist.id))
                    .values(n=RollupTotal.n + by)
                )
        finally:
            await database.dispose()

    asyncio.run(tamper(+1))
    try:
        bad = CliRunner().invoke(main, ["db", "verify-rollups"], env=env)
        assert bad.exit_code == 1 and "differ" in bad.output
    finally:
        asyncio.run(tamper(-1))
    assert asyncio.run(_verify_rollups(settings))[1] == []


def test_the_migration_rolls_up_the_scores_already_stored(backend: str, tmp_path: Path) -> None:
    """Revision 0008 added weekly and monthly rollups: upgrading a database that already holds scores fills
    them so that they equal a full recomputation."""
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url, secret_key=SECRET)
        cfg = alembic_config(settings)
        command.upgrade(cfg, "head")

        async def count(table: Any, *where: Any, settings: Settings = settings) -> int:
            database = Database(settings)
            try:
                async with database.transaction() as tx:
                    return int(await tx.scalar(select(func.count()).select_from(table).where(*where)) or 0)
            finally:
                await database.dispose()

        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            team, _ = seeded(make_org(client, settings), seed=3)
            listed = team.therapist.api.get("/v1/recordings", params={"limit": 50}).json()["items"]
            april = next(r for r in listed if r["occurred_at"].startswith("2026-04-02"))
            withdrawn = team.therapist.api.patch(
                f"/v1/recordings/{april['id']}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
            )
            assert withdrawn.status_code == 200, withdrawn.text
        command.downgrade(cfg, "0007")
        command.upgrade(cfg, "0008")  # on its own: 0010 rebuilds the rollups again
        assert asyncio.run(count(table("score_rollups_weekly"))) == 5 * 2 * 12
        assert asyncio.run(count(table("score_rollups_monthly"))) == 4 * 2 * 12
        command.upgrade(cfg, "head")
        scores, mismatches = asyncio.run(_verify_rollups(settings))
        assert scores == len(DATES) * 2 * 12 and mismatches == []

        # the withdrawn session's two reviews are not counted again (0010); the other 6 sessions still fall in
        # 5 ISO weeks and 4 months (2 April shares both with 3 April)
        assert asyncio.run(count(ReviewScore, ~ReviewScore.counted)) == 2 * 12
        per_review = [~RollupWeek.role.like("s:%")]
        assert asyncio.run(count(RollupWeek, *per_review)) == 5 * 2 * 12
        assert asyncio.run(count(RollupMonth, ~RollupMonth.role.like("s:%"))) == 4 * 2 * 12
        # and the session rollups (0022) of the rater sets supervisor, observers and self, in the same weeks
        assert asyncio.run(count(RollupWeek, RollupWeek.role.like("s:%"))) == 5 * 3 * 12


def test_series_and_team_views_count_a_session_only_while_its_consent_holds(org: Org, settings: Settings) -> None:
    """Withdrawal takes a session's scores out of the rollups in the same transaction; an expiry takes them out
    at its moment (no write happens then: cached views expire with it); renewed consent brings them back."""
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as clock:
        team = make_team(org)
        kept = session(team, 10, "2026-05-04")
        withdrawn = session(team, 11, "2026-05-05")
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        made = team.therapist.api.post(
            "/v1/recordings",
            json=recording_body(
                team.case_id,
                session_number=12,
                occurred_at="2026-05-06T10:00:00Z",
                consent={"scope": "supervision", "expires_at": soon.isoformat()},
            ),
        )
        assert made.status_code == 201, made.text
        expiring = made.json()["id"]
        for recording, value in ((kept, 2), (withdrawn, 7), (expiring, 5)):
            review(team.supervisor, recording, dict.fromkeys(ITEMS, value))
        url = f"/v1/aggregates/therapists/{team.therapist.id}/series"

        def rapport(person: Person) -> tuple[int, float, float]:
            answer = person.api.get(url, params={"rubric": RUBRIC, "bucket": "all", "role": "supervisor"})
            assert answer.status_code == 200, answer.text
            bucket = next(m for m in answer.json()["measures"] if m["key"] == "rapport")["buckets"][0]
            return bucket["n"], bucket["min"], bucket["max"]

        def team_n() -> int:
            view = team.supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC})
            (row,) = view.json()["therapists"]
            return int(next(c for c in row["cells"] if c["key"] == "rapport")["n"])

        assert rapport(team.supervisor) == (3, 2.0, 7.0) and team_n() == 3
        version = team.therapist.api.get(f"/v1/recordings/{withdrawn}").headers["etag"]
        gone = team.therapist.api.patch(
            f"/v1/recordings/{withdrawn}", json={"withdraw_consent": True}, headers={"If-Match": version}
        )
        assert gone.status_code == 200, gone.text
        # min and max are recomputed, not just the count: the 7s are gone for everyone, the therapist included
        assert rapport(team.supervisor) == rapport(team.therapist) == (2, 2.0, 5.0) and team_n() == 2
        # The clock stands still 50 ms before the expiry: ticking, two requests on a loaded machine outlasted 50 ms.
        clock.move_to(soon - dt.timedelta(milliseconds=50), tick=False)
        assert rapport(team.supervisor) == (2, 2.0, 5.0) and team_n() == 2  # cached until the expiry
        clock.move_to(soon, tick=True)
        assert rapport(team.supervisor) == (1, 2.0, 2.0) and team_n() == 1
        assert asyncio.run(_verify_rollups(settings))[1] == []
        # consent renewed after it lapsed: the session counts again
        version = team.therapist.api.get(f"/v1/recordings/{expiring}").headers["etag"]
        renewed = team.therapist.api.patch(
            f"/v1/recordings/{expiring}",
            json={"consent_expires_at": "2031-01-01T00:00:00Z"},
            headers={"If-Match": version},
        )
        assert renewed.status_code == 200, renewed.text
        assert rapport(team.supervisor) == (2, 2.0, 5.0) and team_n() == 2
        assert asyncio.run(_verify_rollups(settings))[1] == []


def test_no_interval_below_three_and_one_past_the_scale_is_cut_to_it(org: Org) -> None:
    """7, 7, 6 on a 1-7 item: mean 6.67, and Student's t at 2 degrees of freedom puts the upper bound at 8.1,
    past the scale: the interval is cut to 7 and says so. Two values get no interval at all."""
    team = make_team(org)
    for number, value in enumerate((7, 7, 6), start=1):
        review(
            team.supervisor, session(team, number, f"2026-05-0{number}"), {**dict.fromkeys(ITEMS, 4), "rapport": value}
        )
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    series = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "all", "role": "supervisor"}).json()
    rapport = next(m for m in series["measures"] if m["key"] == "rapport")["buckets"][0]
    low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean([7, 7, 6]), scale=scipy_stats.sem([7, 7, 6]))
    assert high > 7 and rapport["ci95_clipped"] is True
    assert math.isclose(rapport["ci95"][0], low) and rapport["ci95"][1] == 7.0
    trust = next(m for m in series["measures"] if m["key"] == "trust")["buckets"][0]
    assert (trust["ci95"], trust["ci95_clipped"]) == ([4.0, 4.0], False)  # all 4: a zero-width interval
    two = team.supervisor.api.get(
        url, params={"rubric": RUBRIC, "bucket": "all", "role": "supervisor", "to": "2026-05-02"}
    ).json()
    rapport_two = next(m for m in two["measures"] if m["key"] == "rapport")["buckets"][0]
    assert (rapport_two["n"], rapport_two["ci95"], rapport_two["ci95_clipped"]) == (2, None, False)


def test_sessions_count_on_their_local_date_in_the_organisations_time_zone(org: Org, settings: Settings) -> None:
    """A session at 00:30 on 1 March in Berlin (23:30 UTC on 28 February) counts in March for a clinic in
    Berlin: in the monthly bucket, in date ranges, and in the rollups, which still verify. The time zone is fixed
    once reviews are scored."""
    current = org.admin.api.get("/v1/organisation")
    assert current.json()["time_zone"] == "UTC"
    refused = assert_problem(
        org.admin.api.patch(
            "/v1/organisation", json={"time_zone": "Mars/Olympus"}, headers={"If-Match": current.headers["etag"]}
        ),
        422,
    )
    assert "time_zone" in str(refused["errors"])
    changed = org.admin.api.patch(
        "/v1/organisation", json={"time_zone": "Europe/Berlin"}, headers={"If-Match": current.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    team = make_team(org)
    body = recording_body(team.case_id, session_number=1, occurred_at="2026-02-28T23:30:00Z")
    recording_id = team.therapist.api.post("/v1/recordings", json=body).json()["id"]
    review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 6))
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    monthly = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "month", "role": "supervisor"}).json()
    rapport = next(m for m in monthly["measures"] if m["key"] == "rapport")
    assert [(b["start"], b["n"]) for b in rapport["buckets"]] == [("2026-03-01", 1)]
    march = {"rubric": RUBRIC, "bucket": "all", "role": "supervisor", "from": "2026-03-01", "to": "2026-03-01"}
    in_march = team.supervisor.api.get(url, params=march).json()
    assert next(m for m in in_march["measures"] if m["key"] == "rapport")["buckets"][0]["n"] == 1
    february = {**march, "from": "2026-02-28", "to": "2026-02-28"}
    assert (
        next(m for m in team.supervisor.api.get(url, params=february).json()["measures"] if m["key"] == "rapport")[
            "buckets"
        ]
        == []
    )
    assert asyncio.run(_verify_rollups(settings))[1] == []
    again = org.admin.api.get("/v1/organisation")
    assert_problem(
        org.admin.api.patch("/v1/organisation", json={"time_zone": "UTC"}, headers={"If-Match": again.headers["etag"]}),
        409,
    )


def test_a_view_says_which_versions_exist_and_which_it_shows(org: Org) -> None:
    """With ratings under 1.0 and 1.1 installed, the default view shows 1.1 (no ratings yet) and says that
    1.0 exists too: old data does not drop out of view silently."""
    team = make_team(org)
    body = {"recording_id": session(team, 1, "2026-04-01"), "rubric_key": RUBRIC, "rubric_version": "1.0"}
    started = team.supervisor.api.post("/v1/reviews", json=body).json()
    complete(team.supervisor, started, 5)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    latest = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "all"}).json()
    assert (latest["rubric"]["version"], latest["versions"], latest["version_chosen"]) == (
        "1.1",
        ["1.0", "1.1"],
        "latest",
    )
    assert all(m["buckets"] == [] for m in latest["measures"])
    old = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "all", "version": "1.0"}).json()
    assert (old["rubric"]["version"], old["version_chosen"]) == ("1.0", "asked")
    assert next(m for m in old["measures"] if m["key"] == "rapport")["buckets"][0]["n"] == 1
    team_view = team.supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC}).json()
    assert (team_view["versions"], team_view["version_chosen"]) == (["1.0", "1.1"], "latest")
