"""The unit of analysis is the session: observers are averaged within a session before anything is pooled, the
reviews behind each figure are reported beside it, and the team view's disclosure control cannot be undone by
subtracting one cell from another."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import numpy as np

from supervise.cli import _verify_rollups
from supervise.config import Settings
from tests.aggregates.test_series import close, expected, review, session
from tests.reviews.support import ITEMS, RUBRIC, Team, complete, make_team
from tests.support import Org, Person
from tests.test_http import assert_problem

TEAM = "/v1/aggregates/team"


def observers(org: Org, team: Team, count: int) -> list[Person]:
    """The team's supervisor and ``count - 1`` more supervisors of its therapist."""
    more = [org.member("supervisor") for _ in range(count - 1)]
    for other in more:
        link = {"supervisor_id": other.id, "supervisee_id": team.therapist.id}
        assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    return [team.supervisor, *more]


def rate(raters: list[Person], recording_id: str, rapport: list[int]) -> None:
    for person, value in zip(raters, rapport, strict=False):
        review(person, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": value})


def cell(view: Any, therapist_id: str, key: str = "rapport") -> dict[str, Any]:
    assert view.status_code == 200, view.text
    [row] = [r for r in view.json()["therapists"] if r["therapist_id"] == therapist_id]
    return next(c for c in row["cells"] if c["key"] == key)


# Per session, each observer's rapport: session 1 is rated by five observers, the others by one to three.
PLAN = {
    ("2026-03-02", 1): [2, 3, 4, 6, 7],
    ("2026-03-10", 2): [5],
    ("2026-03-17", 3): [6, 4],
    ("2026-04-07", 4): [3],
    ("2026-04-14", 5): [7, 5, 6],
}


def test_observers_are_averaged_within_a_session_and_the_reviews_reported_beside(org: Org) -> None:
    team = make_team(org)
    raters = observers(org, team, 5)
    for (day, number), rapport in PLAN.items():
        rate(raters, session(team, number, day), rapport)
    means = [float(np.mean(values)) for values in PLAN.values()]  # 4.4, 5, 5, 3, 6
    every = [value for values in PLAN.values() for value in values]
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"

    def buckets(**params: str) -> list[dict[str, Any]]:
        answer = team.supervisor.api.get(url, params={"rubric": RUBRIC, **params})
        assert answer.status_code == 200, answer.text
        return list(next(m for m in answer.json()["measures"] if m["key"] == "rapport")["buckets"])

    # per session (the default): n = 5 sessions, the statistics of the 5 session means, 12 reviews behind them
    [whole] = buckets(bucket="all")
    assert close(whole, expected(means)) and (whole["n"], whole["reviews"]) == (5, 12)
    march, april = buckets(bucket="month")
    assert close(march, expected(means[:3])) and march["reviews"] == 8
    assert close(april, expected(means[3:])) and april["reviews"] == 4
    # per review, behind the parameter: the 12 values as 12 independent ones (the narrower interval)
    [flat] = buckets(bucket="all", unit="review")
    assert close(flat, expected([float(v) for v in every])) and (flat["n"], flat["reviews"]) == (12, 12)
    assert flat["ci95"][1] - flat["ci95"][0] < whole["ci95"][1] - whole["ci95"][0]
    # the team view counts sessions too, and rating a session five times does not lift its suppression
    overall = cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC}), team.therapist.id)
    assert close(overall, expected(means)) and (overall["n"], overall["reviews"], overall["suppressed"]) == (
        5,
        12,
        False,
    )
    in_march = cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC, "from": "2026-03-01", "to": "2026-03-31"}),
                    team.therapist.id)  # fmt: skip
    assert (in_march["n"], in_march["reviews"], in_march["suppressed"], in_march["mean"]) == (3, 8, True, None)
    # the total is averaged within the session the same way
    totals = [float(np.mean([(value + 4 * 7) / 8 for value in values])) for values in PLAN.values()]
    total = cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC}), team.therapist.id, key="total")
    assert close(total, expected(totals))


def shown_cells(org: Org, therapist_id: str) -> list[dict[str, Any]]:
    """Every rapport cell of the therapist the team view will show, over every view it allows: all time and each
    month of 2026, for each rater set."""
    shown = []
    ends = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    ranges = [{}] + [{"from": f"2026-{m:02d}-01", "to": f"2026-{m:02d}-{end}"} for m, end in enumerate(ends, start=1)]
    for bounds, role in itertools.product(ranges, ("observers", "self", "client")):
        view = org.admin.api.get(TEAM, params={"rubric": RUBRIC, "role": role, **bounds})
        rows = [r for r in view.json()["therapists"] if r["therapist_id"] == therapist_id]
        shown += [
            {**c, "view": (role, *bounds.values())}
            for r in rows
            for c in r["cells"]
            if c["key"] == "rapport" and not c["suppressed"]
        ]
    return shown


def test_team_cells_cannot_be_subtracted_to_recover_a_session(org: Org) -> None:
    """Five sessions in January and one in February, rated 1: the attacks of the independent check (nested date
    ranges; all time minus the months shown; one role minus another) are refused or meet withheld cells, and no
    two cells shown differ by fewer than 5 sessions."""
    team = make_team(org)
    for number, day in enumerate(["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-01-28"], start=1):
        rate([team.supervisor], session(team, number, day), [6])
    secret = session(team, 6, "2026-02-10")
    rate([team.supervisor], secret, [1])

    # nested or cut ranges are refused, naming the field
    for bounds, field in (
        ({"from": "2026-01-01", "to": "2026-02-28"}, "to"),
        ({"from": "2026-01-02", "to": "2026-01-31"}, "from"),
        ({"to": "2026-01-31"}, "from"),
    ):
        refused = assert_problem(org.admin.api.get(TEAM, params={"rubric": RUBRIC, **bounds}), 422)
        assert [e["field"] for e in refused["errors"]] == [field]
        assert refused["type"].endswith("/whole-period-required")
    # the team view pools observers, the therapist or the client: no role's cell lies inside another's
    assert_problem(org.admin.api.get(TEAM, params={"rubric": RUBRIC, "role": "supervisor"}), 400)

    january = cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC, "from": "2026-01-01", "to": "2026-01-31"}),
                   team.therapist.id)  # fmt: skip
    assert (january["n"], january["mean"], january["suppressed"]) == (5, 6.0, False)
    everything = cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC}), team.therapist.id)
    # 6 sessions, yet withheld: all time minus January would be February's single session
    assert (everything["n"], everything["suppressed"], everything["mean"]) == (6, True, None)
    recovered = None if everything["mean"] is None else everything["n"] * everything["mean"] - 5 * january["mean"]
    assert recovered is None

    def no_difference_singles_out_a_session() -> list[dict[str, Any]]:
        shown = shown_cells(org, team.therapist.id)
        for a, b in itertools.combinations(shown, 2):
            assert abs(a["n"] - b["n"]) == 0 or abs(a["n"] - b["n"]) >= 5, (a, b)
        return shown

    assert [c["view"] for c in no_difference_singles_out_a_session()] == [("observers", "2026-01-01", "2026-01-31")]
    # four more February sessions: February stands on its own, and all time minus January is those 5 sessions
    for number, day in enumerate(["2026-02-11", "2026-02-12", "2026-02-13", "2026-02-14"], start=7):
        rate([team.supervisor], session(team, number, day), [3])
    shown = no_difference_singles_out_a_session()
    assert {c["view"][1:] for c in shown} == {(), ("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-02-28")}
    # one March session withholds all time again, however many sessions it has
    rate([team.supervisor], session(team, 11, "2026-03-03"), [7])
    assert cell(org.admin.api.get(TEAM, params={"rubric": RUBRIC}), team.therapist.id)["suppressed"] is True
    no_difference_singles_out_a_session()


def test_sessions_near_midnight_in_berlin_and_an_amendment_move_the_session_means(org: Org) -> None:
    """Five sessions at 00:30 in Berlin on 1-5 March (23:30 UTC the day before), each rated by two observers:
    they are March sessions in the series and in March's team view, not February's; amending one observer's
    review moves that session's mean and nothing else; every figure equals scipy's over the session means."""
    current = org.admin.api.get("/v1/organisation")
    changed = org.admin.api.patch(
        "/v1/organisation", json={"time_zone": "Europe/Berlin"}, headers={"If-Match": current.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    team = make_team(org)
    raters = observers(org, team, 2)
    ratings = [[6, 2], [5, 5], [7, 3], [4, 6], [2, 2]]
    first_reviews = []
    for number, pair in enumerate(ratings, start=1):
        eve = f"2026-0{2 if number == 1 else 3}-{_eve(number)}T23:30:00Z"
        body = {**_recording(team, number), "occurred_at": eve}
        recording_id = team.therapist.api.post("/v1/recordings", json=body).json()["id"]
        made = [
            review(person, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": value})
            for person, value in zip(raters, pair, strict=True)
        ]
        first_reviews.append(made[0])
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"

    def check(pairs: list[list[int]]) -> None:
        means = [float(np.mean(pair)) for pair in pairs]
        monthly = team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "month"}).json()
        [march] = next(m for m in monthly["measures"] if m["key"] == "rapport")["buckets"]
        assert march["start"] == "2026-03-01" and close(march, expected(means)) and march["reviews"] == 10
        month = {"rubric": RUBRIC, "from": "2026-03-01", "to": "2026-03-31"}
        shown = cell(org.admin.api.get(TEAM, params=month), team.therapist.id)
        assert close(shown, expected(means)) and (shown["reviews"], shown["suppressed"]) == (10, False)
        february = org.admin.api.get(TEAM, params={**month, "from": "2026-02-01", "to": "2026-02-28"}).json()
        assert february["therapists"] == []

    check(ratings)
    # the first observer amends session 3's rating from 7 to 1: that session's mean goes from 5 to 2
    amend = raters[0].api.post(f"/v1/reviews/{first_reviews[2]['id']}/amend", json={"reason": "misread"}).json()
    complete(raters[0], amend, 4, rapport=1)
    check([pair if i != 2 else [1, 3] for i, pair in enumerate(ratings)])


def _recording(team: Team, number: int) -> dict[str, Any]:
    from tests.recordings.test_api import recording_body

    return dict(recording_body(team.case_id, session_number=number))


def _eve(number: int) -> str:
    """The UTC day before the number-th of March: 28 February for the first."""
    return "28" if number == 1 else f"{number - 1:02d}"


def test_session_rollups_follow_every_write_exactly(org: Org, settings: Settings) -> None:
    """Random ratings by four observers on four sessions, in random order, with amendments (a mean that was a
    row's min or max leaves it) and a consent withdrawn: after every write the session rollups equal a full
    recomputation from the scores, and the series equals the statistics of the session means."""
    rng = random.Random(12)
    team = make_team(org)
    raters = observers(org, team, 4)
    days = ["2026-05-04", "2026-05-05", "2026-05-12", "2026-06-01"]
    recordings = [session(team, number, day) for number, day in enumerate(days, start=1)]
    given: dict[tuple[int, int], dict[str, Any]] = {}  # (rater, session) -> the current review
    values: dict[tuple[int, int], int] = {}
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    withdrawn = False
    for step in range(24):
        who, where = rng.randrange(4), rng.randrange(3 if withdrawn else 4)  # session 4's consent ends at step 12
        value = rng.randint(1, 7)
        if (who, where) in given:
            amend = raters[who].api.post(f"/v1/reviews/{given[(who, where)]['id']}/amend", json={"reason": "again"})
            given[(who, where)] = complete(raters[who], amend.json(), 4, rapport=value)
        else:
            given[(who, where)] = review(raters[who], recordings[where], {**dict.fromkeys(ITEMS, 4), "rapport": value})
        values[(who, where)] = value
        if step == 12:
            current = team.therapist.api.get(f"/v1/recordings/{recordings[3]}")
            answer = team.therapist.api.patch(
                f"/v1/recordings/{recordings[3]}",
                json={"withdraw_consent": True},
                headers={"If-Match": current.headers["etag"]},
            )
            assert answer.status_code == 200, answer.text
            withdrawn = True
        assert asyncio.run(_verify_rollups(settings))[1] == [], step
        means = [
            float(np.mean([v for (_, s), v in values.items() if s == where]))
            for where in range(4)
            if any(s == where for _, s in values) and not (withdrawn and where == 3)
        ]
        [bucket] = next(
            m
            for m in team.supervisor.api.get(url, params={"rubric": RUBRIC, "bucket": "all"}).json()["measures"]
            if m["key"] == "rapport"
        )["buckets"]
        assert close(bucket, expected(means)), (step, bucket, means)
