"""Client vs therapist vs observers on the same sessions, each as a percentage of its measure's range."""

from __future__ import annotations

import math

import numpy as np

from tests.aggregates.test_series import review
from tests.client_ratings.test_client_ratings import ehr, session, srs
from tests.reviews.support import ITEMS, complete, make_team
from tests.support import Org
from tests.test_http import assert_problem


def pomp(value: float, low: float, high: float) -> float:
    return 100 * (value - low) / (high - low)


def test_client_therapist_and_observers_compare_as_shares_of_range(org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    # session: client SRS total (0-40), self alliance (1-7), observers' alliance values
    plan = {
        1: ((9.0, 9.0, 9.0, 9.0), 6, [5, 3]),  # client 36, self 6, supervisor 5 and peer 3
        2: ((8.0, 8.0, 8.0, 8.0), 5, []),
        3: ((10.0, 10.0, 10.0, 10.0), None, [7]),
        4: (None, 4, [4]),
    }
    recordings = {}
    for number, (client, own, observers) in plan.items():
        day = f"2026-09-{number:02d}"
        recordings[number] = session(team, number, day)
        if client is not None:
            assert system.api.post("/v1/client-ratings", json=srs(recordings[number], client, day)).status_code == 201
        if own is not None:
            review(team.therapist, recordings[number], dict.fromkeys(ITEMS, own))
        for i, value in enumerate(observers):
            if i == 0:
                review(team.supervisor, recordings[number], dict.fromkeys(ITEMS, value))
            else:
                request = team.request(team.supervisor, team.peer, "peer", recording_id=recordings[number])
                complete(team.peer, team.start(team.peer, request), value)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/perspectives"
    answer = team.supervisor.api.get(url, params={"rubric": "alliance", "client_rubric": "srs"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["measure"], body["client_rubric"]["key"], body["client_measure"]) == ("total", "srs", "total")
    by_session = {s["session_number"]: s for s in body["sessions"]}
    assert sorted(by_session) == [1, 2, 3, 4]
    expected = {
        1: (pomp(36, 0, 40), pomp(6, 1, 7), (pomp(5, 1, 7) + pomp(3, 1, 7)) / 2, 2),
        2: (pomp(32, 0, 40), pomp(5, 1, 7), None, 0),
        3: (pomp(40, 0, 40), None, pomp(7, 1, 7), 1),
        4: (None, pomp(4, 1, 7), pomp(4, 1, 7), 1),
    }
    for number, (client, own, observed, n) in expected.items():
        got = by_session[number]
        for name, want in (("client", client), ("therapist", own), ("observers", observed)):
            assert (got[name] is None) == (want is None) and (want is None or math.isclose(got[name], want)), (
                number,
                name,
                got,
            )
        assert got["observer_n"] == n
    gaps = {g["pair"]: g["gap"] for g in body["gaps"]}
    client_minus_observers = [expected[s][0] - expected[s][2] for s in (1, 3)]  # type: ignore[operator]
    gap = gaps["client_minus_observers"]
    assert gap["n"] == 2 and math.isclose(gap["mean"], float(np.mean(client_minus_observers)))
    assert math.isclose(gap["sd"], float(np.std(client_minus_observers, ddof=1)))
    assert gap["ci95"] is None  # no interval below 3 sessions
    assert gaps["client_minus_therapist"]["n"] == 2  # sessions 1 and 2
    assert gaps["therapist_minus_observers"]["n"] == 2  # sessions 1 and 4
    # the therapist sees it too; a peer sees no figures of another therapist's
    assert team.therapist.api.get(url, params={"rubric": "alliance", "client_rubric": "srs"}).status_code == 200
    assert_problem(team.peer.api.get(url, params={"rubric": "alliance", "client_rubric": "srs"}), 404)
    # what cannot be compared is named
    refused = assert_problem(
        team.supervisor.api.get(url, params={"rubric": "alliance", "client_rubric": "alliance"}), 422
    )
    assert "client_rubric" in str(refused["errors"])
    refused = assert_problem(
        team.supervisor.api.get(url, params={"rubric": "alliance", "client_rubric": "srs", "measure": "nope"}), 422
    )
    assert "measure" in str(refused["errors"])
