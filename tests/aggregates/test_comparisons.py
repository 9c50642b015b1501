"""Self vs observer, case trajectories and feedback usefulness, against computations over the raw values."""

from __future__ import annotations

import math

import numpy as np

from tests.aggregates.test_series import review, session
from tests.audit.test_audit import events
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, RUBRIC, complete, make_team
from tests.support import Org, Person
from tests.test_http import assert_problem


def test_self_vs_observer_is_the_mean_gap_per_recording(org: Org) -> None:
    team = make_team(org)
    peer2 = org.member("clinician")
    own, observers = [3, 6, 5, 2], [(5, 6), (6,), (4, 2), ()]  # per session: self, then each observer's rapport
    for number, (mine, theirs) in enumerate(zip(own, observers, strict=True), start=1):
        recording_id = session(team, number, f"2026-05-0{number}")
        review(team.therapist, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": mine})
        for person, value in zip((team.supervisor, peer2), theirs, strict=False):
            if person is peer2:
                request = team.request(team.supervisor, peer2, "peer", recording_id=recording_id)
                started = peer2.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
                url = f"/v1/reviews/{started['id']}"
                body = {"responses": {"items": {**dict.fromkeys(ITEMS, 4), "rapport": value}}}
                assert peer2.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
                assert peer2.api.post(f"{url}/submit").status_code == 200
            else:
                review(person, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": value})
    answer = team.supervisor.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/self-vs-observer", params={"rubric": RUBRIC}
    )
    assert answer.status_code == 200, answer.text
    rapport = next(m for m in answer.json()["measures"] if m["key"] == "rapport")
    gaps = [mine - float(np.mean(theirs)) for mine, theirs in zip(own, observers, strict=True) if theirs]
    assert rapport["n"] == 3
    assert math.isclose(rapport["gap"]["mean"], float(np.mean(gaps)))
    assert math.isclose(rapport["gap"]["sd"], float(np.std(gaps, ddof=1)))
    assert math.isclose(rapport["mean_self"], float(np.mean([3, 6, 5])))
    assert math.isclose(rapport["mean_observer"], float(np.mean([5.5, 6, 3])))
    trust = next(m for m in answer.json()["measures"] if m["key"] == "trust")
    assert (trust["n"], trust["gap"]["mean"], trust["gap"]["sd"]) == (3, 0.0, 0.0)
    assert_problem(
        team.bystander.api.get(
            f"/v1/aggregates/therapists/{team.therapist.id}/self-vs-observer", params={"rubric": RUBRIC}
        ),
        404,
    )


def test_a_case_trajectory_signals_a_drop(org: Org) -> None:
    team = make_team(org)
    totals = [5, 5.5, 4.0, 4.5]  # the supervisor's total per session: a fall of 1.5 at session 3
    for number, total in enumerate(totals, start=1):
        recording_id = session(team, number, f"2026-06-0{number}")
        review(
            team.supervisor,
            recording_id,
            dict.fromkeys(ITEMS, int(total)) | ({"rapport": 7, "trust": 4} if total == 5.5 else {}),
        )
    url = f"/v1/aggregates/cases/{team.case_id}/trajectory"
    answer = team.therapist.api.get(url, params={"rubric": RUBRIC})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert math.isclose(body["drop_threshold"], 0.15 * 6)
    sessions = body["sessions"]
    assert [s["session_number"] for s in sessions] == [1, 2, 3, 4]
    means = [s["roles"][0]["mean"] for s in sessions]
    assert means == [5.0, (7 + 4 + 6 * 5) / 8, 4.0, 4.0]
    assert sessions[0]["roles"][0]["change"] is None
    assert [s["rupture"] for s in sessions] == [False, False, True, False]
    assert_problem(team.therapist.api.get(url, params={"rubric": RUBRIC, "measure": "charisma"}), 422)
    assert_problem(team.bystander.api.get(url, params={"rubric": RUBRIC}), 404)


def test_a_trajectory_compares_the_same_raters_where_it_can(org: Org) -> None:
    """Supervisor A rates 6 and 6; supervisor B joins at session 2 with 3 and rates session 3 alone; D rates
    session 4 alone. The role's mean falls from 6 to 4.5 at session 2, but A, who rated both, did not change:
    no rupture. At session 4 nobody rated both, so the change is of means across different raters, and says so."""
    team = make_team(org)
    others = [org.member("supervisor") for _ in range(2)]
    for other in others:
        link = {"supervisor_id": other.id, "supervisee_id": team.therapist.id}
        assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    b, d = others
    plan = {1: [(team.supervisor, 6)], 2: [(team.supervisor, 6), (b, 3)], 3: [(b, 3)], 4: [(d, 5)]}
    for number, ratings in plan.items():
        recording_id = session(team, number, f"2026-06-0{number}")
        for person, value in ratings:
            review(person, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": value})
    url = f"/v1/aggregates/cases/{team.case_id}/trajectory"
    sessions = team.therapist.api.get(url, params={"rubric": RUBRIC, "measure": "rapport"}).json()["sessions"]
    supervisor = [s["roles"][0] for s in sessions]
    assert [r["mean"] for r in supervisor] == [6.0, 4.5, 3.0, 5.0]
    assert [(r["change"], r["change_basis"]) for r in supervisor] == [
        (None, None),
        (0.0, "same_raters"),
        (0.0, "same_raters"),
        (2.0, "different_raters"),
    ]
    assert [s["rupture"] for s in sessions] == [False, False, False, False]


def test_an_unbounded_measure_signals_no_rupture(org: Org) -> None:
    """MITI's MI-adherent total is a count with no upper bound: there is no range to take 15% of, and no
    instrument publishes an absolute drop for it. A fall from 10 to 2 is a change, not a rupture."""
    from supervise_miti import MITI

    from supervise.rubrics import CountScale

    team = make_team(org)
    for number, seeking in ((1, 10), (2, 2)):
        recording_id = session(team, number, f"2026-06-0{number}")
        items = {item.key: 0 if isinstance(item.scale, CountScale) else 3 for item in MITI.items}
        items["seeking_collaboration"] = seeking
        started = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": "miti"})
        url = f"/v1/reviews/{started.json()['id']}"
        body = {"responses": {"items": items}}
        assert team.supervisor.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
        assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    url = f"/v1/aggregates/cases/{team.case_id}/trajectory"
    answer = team.therapist.api.get(url, params={"rubric": "miti", "measure": "mi_adherent"}).json()
    assert answer["drop_threshold"] is None
    assert [s["roles"][0]["change"] for s in answer["sessions"]] == [None, -8.0]
    assert [s["rupture"] for s in answer["sessions"]] == [False, False]


def test_usefulness_per_reviewer(org: Org) -> None:
    team = make_team(org)
    ratings = [5, 3, 4]
    for number, rating in enumerate(ratings, start=1):
        recording_id = session(team, number, f"2026-07-0{number}")
        made = review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 5))
        acknowledged = team.therapist.api.post(f"/v1/reviews/{made['id']}/acknowledge", json={"usefulness": rating})
        assert acknowledged.status_code == 200
    mine = team.supervisor.api.get("/v1/aggregates/usefulness").json()["reviewers"]
    assert len(mine) == 1 and mine[0]["reviewer_id"] == team.supervisor.id
    assert (mine[0]["n"], mine[0]["mean"], mine[0]["min"], mine[0]["max"]) == (3, 4.0, 3, 5)
    assert math.isclose(mine[0]["sd"], float(np.std(ratings, ddof=1)))
    assert_problem(team.peer.api.get("/v1/aggregates/usefulness", params={"reviewer_id": team.supervisor.id}), 403)
    assert team.peer.api.get("/v1/aggregates/usefulness").json()["reviewers"] == []
    everyone = org.admin.api.get("/v1/aggregates/usefulness").json()["reviewers"]
    assert [r["reviewer_id"] for r in everyone] == [team.supervisor.id]


def test_usefulness_counts_only_current_revisions(org: Org) -> None:
    """A review acknowledged, amended, and its revision 2 acknowledged: one review, one rating, the current."""
    team = make_team(org)
    first = review(team.supervisor, session(team, 1, "2026-07-01"), dict.fromkeys(ITEMS, 5))
    assert team.therapist.api.post(f"/v1/reviews/{first['id']}/acknowledge", json={"usefulness": 2}).status_code == 200
    amended = team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "Trust was misread."})
    assert amended.status_code == 201, amended.text
    second = complete(team.supervisor, amended.json(), 4)
    assert second["revision"] == 2
    assert team.therapist.api.post(f"/v1/reviews/{second['id']}/acknowledge", json={"usefulness": 5}).status_code == 200
    [mine] = team.supervisor.api.get("/v1/aggregates/usefulness").json()["reviewers"]
    assert (mine["n"], mine["mean"], mine["min"], mine["max"]) == (1, 5.0, 5, 5)


def test_aggregates_keep_blind_review_and_consent(org: Org) -> None:
    team = make_team(org)
    first = session(team, 1, "2026-08-01")
    second = session(team, 2, "2026-08-02")
    # a peer reviews session 1 (assigned); the supervisor still owes a first review of session 2
    request = team.request(team.supervisor, team.peer, "peer", recording_id=first)
    started = team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
    body = {"responses": {"items": dict.fromkeys(ITEMS, 7)}}
    assert (
        team.peer.api.patch(f"/v1/reviews/{started['id']}", json=body, headers={"If-Match": '"1"'}).status_code == 200
    )
    assert team.peer.api.post(f"/v1/reviews/{started['id']}/submit").status_code == 200
    draft = team.supervisor.api.post("/v1/reviews", json={"recording_id": second, "rubric_key": RUBRIC})
    assert draft.status_code == 201
    series = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    blinded = assert_problem(team.supervisor.api.get(series, params={"rubric": RUBRIC}), 409)
    assert "blind" in blinded["detail"]
    cell = team.supervisor.api.get("/v1/aggregates/team", params={"rubric": RUBRIC}).json()["therapists"][0]["cells"][0]
    assert cell["suppressed"] is True and cell["mean"] is None
    # the trajectory shows only what the reviews show: the supervisor, blind on session 2, still sees session 1
    trajectory = team.supervisor.api.get(f"/v1/aggregates/cases/{team.case_id}/trajectory", params={"rubric": RUBRIC})
    assert [s["session_number"] for s in trajectory.json()["sessions"]] == [1]
    # once consent for session 1 is withdrawn, its reviews leave the supervisor's trajectory, not the therapist's
    withdrawn = team.therapist.api.patch(
        f"/v1/recordings/{first}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
    )
    assert withdrawn.status_code == 200
    trajectory = team.supervisor.api.get(f"/v1/aggregates/cases/{team.case_id}/trajectory", params={"rubric": RUBRIC})
    assert trajectory.json()["sessions"] == []
    theirs = team.therapist.api.get(f"/v1/aggregates/cases/{team.case_id}/trajectory", params={"rubric": RUBRIC})
    assert [s["session_number"] for s in theirs.json()["sessions"]] == [1]
    # submitting the pending review lifts the blind
    url = f"/v1/reviews/{draft.json()['id']}"
    assert team.supervisor.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
    assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    assert team.supervisor.api.get(series, params={"rubric": RUBRIC, "to": "9999-12-31"}).status_code == 200
    far = team.therapist.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/self-vs-observer", params={"rubric": RUBRIC, "to": "9999-12-31"}
    )
    assert far.status_code == 200


def test_the_flags_feed(org: Org) -> None:
    team = make_team(org)
    low = review(team.supervisor, session(team, 1, "2026-09-01"), dict.fromkeys(ITEMS, 2))
    review(team.supervisor, session(team, 2, "2026-09-02"), dict.fromkeys(ITEMS, 5))  # raises nothing
    later = review(team.supervisor, session(team, 3, "2026-09-03"), {**dict.fromkeys(ITEMS, 5), "trust": 1})
    feed = team.therapist.api.get("/v1/aggregates/flags")
    assert feed.status_code == 200, feed.text
    items = feed.json()["items"]
    # newest first; the flags of one review in the reverse of the order its rubric raised them
    assert [(f["review_id"], f["code"]) for f in items] == [
        (later["id"], "item_strained"),
        (low["id"], "item_strained"),
        (low["id"], "below_neutral"),
    ]
    warnings = team.supervisor.api.get("/v1/aggregates/flags", params={"severity": "warning"}).json()["items"]
    assert [(f["code"], f["severity"], f["threshold"]) for f in warnings] == [
        ("below_neutral", "warning", "below_neutral")
    ]
    # paging, newest first, by therapist
    first = org.admin.api.get("/v1/aggregates/flags", params={"limit": 2, "therapist_id": team.therapist.id}).json()
    rest = org.admin.api.get(
        "/v1/aggregates/flags", params={"limit": 2, "therapist_id": team.therapist.id, "cursor": first["next_cursor"]}
    ).json()
    assert [f["id"] for f in first["items"] + rest["items"]] == [f["id"] for f in items]
    # only from reviews you may see; an amendment replaces its revision's flags
    assert team.bystander.api.get("/v1/aggregates/flags").json()["items"] == []
    amend = team.supervisor.api.post(f"/v1/reviews/{low['id']}/amend", json={"reason": "misread"}).json()
    url = f"/v1/reviews/{amend['id']}"
    body = {"responses": {"items": dict.fromkeys(ITEMS, 5)}}
    assert team.supervisor.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
    assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    left = team.therapist.api.get("/v1/aggregates/flags").json()["items"]
    assert [f["review_id"] for f in left] == [later["id"]]
    assert_problem(team.therapist.api.get("/v1/aggregates/flags", params={"severity": "fatal"}), 400)


def test_reliability_is_krippendorffs_alpha_over_the_readable_reviews(org: Org) -> None:
    import krippendorff

    team = make_team(org)
    supervisor_values, peer_values = [6, 5, 2, 7], [5, 5, 3, 6]
    for number, (mine, theirs) in enumerate(zip(supervisor_values, peer_values, strict=True), start=1):
        recording_id = session(team, number, f"2026-10-0{number}")
        review(team.supervisor, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": mine})
        request = team.request(team.supervisor, team.peer, "peer", recording_id=recording_id)
        started = team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
        url = f"/v1/reviews/{started['id']}"
        body = {"responses": {"items": {**dict.fromkeys(ITEMS, 4), "rapport": theirs}}}
        assert team.peer.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
        assert team.peer.api.post(f"{url}/submit").status_code == 200
    answer = team.supervisor.api.get("/v1/aggregates/reliability", params={"rubric": RUBRIC})
    assert answer.status_code == 200, answer.text
    rapport = next(m for m in answer.json()["measures"] if m["key"] == "rapport")
    want = krippendorff.alpha(reliability_data=[supervisor_values, peer_values], level_of_measurement="interval")
    assert math.isclose(rapport["alpha"], want)
    ordinal = krippendorff.alpha(reliability_data=[supervisor_values, peer_values], level_of_measurement="ordinal")
    assert math.isclose(rapport["alpha_ordinal"], ordinal)  # an ordinal item: both metrics
    total = next(m for m in answer.json()["measures"] if m["key"] == "total")
    assert total["alpha_ordinal"] is None  # a score: interval only
    assert (rapport["units"], rapport["raters"], rapport["values"], rapport["metric"]) == (4, 2, 8, "interval")
    assert rapport["band"] == ("reliable" if want >= 0.8 else "tentative" if want >= 0.667 else "unreliable")
    # ICC needs 5 recordings rated by the same observers; 4 are not enough, and the answer says so
    assert rapport["icc"] is None
    assert "at least 5 recordings" in rapport["icc_reason"] and "has 4" in rapport["icc_reason"]
    trust = next(m for m in answer.json()["measures"] if m["key"] == "trust")
    assert (trust["alpha"], trust["band"], trust["icc"]) == (
        None,
        None,
        None,
    )  # everyone said 4: agreement cannot be told from chance
    # only from reviews the caller may read: a bystander has nothing to pair
    nothing = team.bystander.api.get("/v1/aggregates/reliability", params={"rubric": RUBRIC}).json()
    assert all(m["units"] == 0 for m in nothing["measures"])
    assert_problem(
        team.bystander.api.get(
            "/v1/aggregates/reliability", params={"rubric": RUBRIC, "therapist_id": team.therapist.id}
        ),
        404,
    )


def test_calibration_against_a_reference_review(org: Org) -> None:
    team = make_team(org)
    training = team.therapist.api.post(
        "/v1/recordings",
        json=recording_body(
            team.case_id,
            session_number=9,
            consent={"scope": "supervision_and_training"},
            occurred_at="2026-10-20T10:00:00Z",
        ),
    ).json()["id"]
    reference_values = {**dict.fromkeys(ITEMS, 4), "rapport": 6, "trust": 2}
    gold = review(team.supervisor, training, reference_values)
    peer_values = {**dict.fromkeys(ITEMS, 5), "rapport": 6, "trust": 5}  # deviations: 0, 3, and 1 for six items
    request = team.request(team.supervisor, team.peer, "peer", recording_id=training)
    started = team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
    url = f"/v1/reviews/{started['id']}"
    assert (
        team.peer.api.patch(url, json={"responses": {"items": peer_values}}, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    assert team.peer.api.post(f"{url}/submit").status_code == 200
    # only admins mark references, only on training recordings, once per recording and rubric version
    assert_problem(team.supervisor.api.post(f"/v1/reviews/{gold['id']}/reference"), 403)
    ordinary = review(team.supervisor, session(team, 10, "2026-10-21"), dict.fromkeys(ITEMS, 4))
    assert_problem(org.admin.api.post(f"/v1/reviews/{ordinary['id']}/reference"), 409)
    marked = org.admin.api.post(f"/v1/reviews/{gold['id']}/reference")
    assert marked.status_code == 201, marked.text
    assert marked.headers["location"] == f"/v1/reviews/{gold['id']}/reference"
    assert_problem(org.admin.api.post(f"/v1/reviews/{started['id']}/reference"), 409)
    answer = org.admin.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC})
    assert answer.status_code == 200, answer.text
    raters = answer.json()["raters"]
    assert [r["reviewer_id"] for r in raters] == [team.peer.id]
    peer = raters[0]
    deviations = [abs(peer_values[i] - reference_values[i]) for i in ITEMS]
    assert peer["recordings"] == 1
    assert peer["overall"]["n"] == len(ITEMS)
    assert math.isclose(peer["overall"]["mean_absolute_deviation"], sum(deviations) / len(ITEMS))
    assert math.isclose(peer["overall"]["within_one"], sum(d <= 1 for d in deviations) / len(ITEMS))
    trust = next(i for i in peer["items"] if i["key"] == "trust")
    assert (trust["n"], trust["mean_absolute_deviation"], trust["within_one"]) == (1, 3.0, 0.0)
    assert len(peer["drift"]) == 1 and peer["drift"][0]["n"] == len(ITEMS)
    # a rater sees their own; others' only as an admin
    assert (
        team.peer.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC}).json()["raters"][0]["reviewer_id"]
        == team.peer.id
    )
    assert_problem(
        team.peer.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC, "reviewer_id": team.supervisor.id}),
        403,
    )
    assert org.admin.api.delete(f"/v1/reviews/{gold['id']}/reference").status_code == 204
    assert org.admin.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC}).json()["raters"] == []
    assert_problem(org.admin.api.delete(f"/v1/reviews/{gold['id']}/reference"), 404)


def test_icc_is_computed_on_the_largest_complete_block(org: Org) -> None:
    """Observers {supervisor, peer, second peer} on 5 recordings and {supervisor, peer} on 8: the largest block
    all rated by the same observers is the 13 recordings the supervisor and the peer both rated — not the 5 the
    three share, nor the 8 with exactly two raters — and the answer names it."""
    import pandas as pd
    import pingouin

    team = make_team(org)
    second_peer = org.member("clinician")
    supervisor = [6, 5, 2, 7, 4, 3, 6, 5, 2, 7, 4, 6, 3]
    peer = [5, 5, 3, 6, 4, 2, 6, 4, 3, 7, 5, 6, 2]
    second = [2, 7, 6, 1, 5]

    def peer_review(person: Person, recording_id: str, rapport: int) -> None:
        request = team.request(team.supervisor, person, "peer", recording_id=recording_id)
        started = person.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
        url = f"/v1/reviews/{started['id']}"
        body = {"responses": {"items": {**dict.fromkeys(ITEMS, 4), "rapport": rapport}}}
        assert person.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
        assert person.api.post(f"{url}/submit").status_code == 200

    for number, (mine, theirs) in enumerate(zip(supervisor, peer, strict=True), start=1):
        recording_id = session(team, number, f"2026-10-{number:02d}")
        review(team.supervisor, recording_id, {**dict.fromkeys(ITEMS, 4), "rapport": mine})
        peer_review(team.peer, recording_id, theirs)
        if number <= len(second):
            peer_review(second_peer, recording_id, second[number - 1])
    answer = team.supervisor.api.get("/v1/aggregates/reliability", params={"rubric": RUBRIC})
    assert answer.status_code == 200, answer.text
    rapport = next(m for m in answer.json()["measures"] if m["key"] == "rapport")
    long = pd.DataFrame(
        [(i, rater, v) for i, pair in enumerate(zip(supervisor, peer, strict=True)) for rater, v in enumerate(pair)],
        columns=["target", "rater", "score"],
    )
    want = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="score").set_index("Type")
    icc = rapport["icc"]
    assert rapport["icc_reason"] is None and icc["degenerate"] is False
    assert icc["band"] == koo_li(icc["value"])
    assert icc["ci95_bands"] == [koo_li(icc["ci95"][0]), koo_li(icc["ci95"][1])]
    assert (icc["targets"], icc["raters"]) == (13, 2)
    assert icc["rater_ids"] == sorted([team.supervisor.id, team.peer.id])
    assert math.isclose(icc["value"], want.loc["ICC(A,1)", "ICC"])
    assert (rapport["units"], rapport["raters"]) == (13, 3)


def test_an_amended_reference_stays_the_reference(org: Org) -> None:
    """The reference's reviewer amends it: the reference follows to revision 2 (audited), and calibration
    measures the other raters against revision 2's values, losing no recording."""
    team = make_team(org)
    training = team.therapist.api.post(
        "/v1/recordings",
        json=recording_body(team.case_id, consent={"scope": "supervision_and_training"}),
    ).json()["id"]
    gold = review(team.supervisor, training, dict.fromkeys(ITEMS, 4))
    request = team.request(team.supervisor, team.peer, "peer", recording_id=training)
    complete(team.peer, team.start(team.peer, request), 5)
    assert org.admin.api.post(f"/v1/reviews/{gold['id']}/reference").status_code == 201
    amended = team.supervisor.api.post(f"/v1/reviews/{gold['id']}/amend", json={"reason": "Rated too low."})
    assert amended.status_code == 201, amended.text
    revised = complete(team.supervisor, amended.json(), 6)
    [peer] = org.admin.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC}).json()["raters"]
    assert (peer["recordings"], peer["overall"]["n"], peer["overall"]["mean_absolute_deviation"]) == (
        1,
        len(ITEMS),
        1.0,
    )
    # it is revision 2 that is the reference now: unmarking revision 1 finds nothing, revision 2 is marked already
    assert_problem(org.admin.api.delete(f"/v1/reviews/{gold['id']}/reference"), 404)
    assert_problem(org.admin.api.post(f"/v1/reviews/{revised['id']}/reference"), 409)
    followed = [e for e in events(org) if e["action"] == "review.reference_followed"]
    assert [(e["resource_id"], e["outcome"]) for e in followed] == [(revised["id"], "success")]
    assert org.admin.api.delete(f"/v1/reviews/{revised['id']}/reference").status_code == 204


def koo_li(value: float) -> str:
    return "excellent" if value > 0.9 else "good" if value >= 0.75 else "moderate" if value >= 0.5 else "poor"


def test_an_icc_outside_minus_one_to_one_is_reported_unlabelled() -> None:
    """Row means all equal and column means all equal, the raters disagreeing on every recording: ICC(A,1) is
    -MSE / (MSE (1 - k/n)) = -1.5 for 6 recordings and 2 raters. A value, but no band: it is degenerate."""
    from supervise.aggregates.comparisons import _icc

    table = [(1, 3), (3, 1), (1, 3), (3, 1), (2, 2), (2, 2)]
    icc, reason = _icc({i: {"A": float(a), "B": float(b)} for i, (a, b) in enumerate(table)})
    assert reason is None and icc is not None
    assert math.isclose(icc.value, -1.5) and icc.degenerate
    assert (icc.band, icc.ci95_bands) == (None, None)
    fewer, why = _icc({i: {"A": float(a), "B": float(b)} for i, (a, b) in enumerate(table[:4])})
    assert fewer is None and why is not None and "has 4" in why


def test_calibration_drift_is_by_month_of_submission_and_leaves_self_ratings_out(org: Org) -> None:
    """Two training sessions of the same week, the peer rating one in March and one in May: two drift points,
    March and May. The therapist's self-rating of a reference recording is no rater to calibrate."""
    import datetime as dt

    import time_machine

    team = make_team(org)
    training = [
        team.therapist.api.post(
            "/v1/recordings",
            json=recording_body(
                team.case_id,
                session_number=20 + i,
                consent={"scope": "supervision_and_training"},
                occurred_at=f"2026-01-0{5 + i}T10:00:00Z",
            ),
        ).json()["id"]
        for i in range(2)
    ]
    for recording_id in training:
        gold = review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 4))
        assert org.admin.api.post(f"/v1/reviews/{gold['id']}/reference").status_code == 201
        review(team.therapist, recording_id, dict.fromkeys(ITEMS, 7))  # a self-rating: not calibrated
    for recording_id, (month, value) in zip(training, (("2027-03-10", 5), ("2027-05-20", 6)), strict=True):
        with time_machine.travel(dt.datetime.fromisoformat(f"{month}T12:00:00+00:00"), tick=True):
            request = team.request(team.supervisor, team.peer, "peer", recording_id=recording_id)
            complete(team.peer, team.start(team.peer, request), value)
    raters = org.admin.api.get("/v1/aggregates/calibration", params={"rubric": RUBRIC}).json()["raters"]
    assert [r["reviewer_id"] for r in raters] == [team.peer.id]
    drift = [(d["month"], d["mean_absolute_deviation"]) for d in raters[0]["drift"]]
    assert drift == [("2027-03-01", 1.0), ("2027-05-01", 2.0)]


def coding(segments: list[tuple[int, int, bool]], marker: str = "withdrawal_denial") -> dict[str, object]:
    """3RS responses: every required session item 3, and per segment every marker absent but ``marker``."""
    from supervise_3rs import THREE_RS

    from supervise.rubrics import BooleanScale

    session_items = {i.key: 3 for i in THREE_RS.items if i.level == "session" and i.required}
    flags = [i.key for i in THREE_RS.items if i.level == "segment" and isinstance(i.scale, BooleanScale) and i.required]
    return {
        "items": session_items,
        "segments": [
            {"start_ms": start, "end_ms": end, "items": {**dict.fromkeys(flags, False), marker: present}}
            for start, end, present in segments
        ],
    }


def test_3rs_marker_agreement_aligns_codings_on_the_time_grid(org: Org) -> None:
    """A supervisor codes a 20-minute session in 5-minute segments, a peer in one 10-minute and two 5-minute
    segments. On the 5-minute grid their codings of the withdrawal marker 'denial' become four cells each, and
    alpha per marker is the krippendorff package's nominal alpha over those cells."""
    import krippendorff

    team = make_team(org)
    marker = "withdrawal_denial"

    five = 300_000
    supervisor = [(0, five, True), (five, 2 * five, False), (2 * five, 3 * five, True), (3 * five, 4 * five, False)]
    peer = [(0, 2 * five, True), (2 * five, 3 * five, False), (3 * five, 4 * five, False)]  # 0-10 min: cells 0, 1
    recording_id = session(team, 1, "2026-06-01")
    for person, segments in ((team.supervisor, supervisor), (team.peer, peer)):
        if person is team.peer:
            request = team.request(team.supervisor, team.peer, "peer", recording_id=recording_id, rubric_key="3rs")
            started = team.start(team.peer, request)
        else:
            made = person.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": "3rs"})
            assert made.status_code == 201, made.text
            started = made.json()
        url = f"/v1/reviews/{started['id']}"
        saved = person.api.patch(url, json={"responses": coding(segments)}, headers={"If-Match": '"1"'})
        assert saved.status_code == 200, saved.text
        assert person.api.post(f"{url}/submit").status_code == 200
    answer = team.supervisor.api.get("/v1/aggregates/reliability", params={"rubric": "3rs"})
    assert answer.status_code == 200, answer.text
    denial = next(m for m in answer.json()["markers"] if m["key"] == marker)
    grid = [[1, 0, 1, 0], [1, 1, 0, 0]]  # supervisor's and peer's cells, by hand
    want = krippendorff.alpha(reliability_data=grid, level_of_measurement="nominal")
    assert (denial["cells"], denial["coders"], denial["present"]) == (4, 2, 4)
    assert math.isclose(denial["alpha"], want)
    never = next(m for m in answer.json()["markers"] if m["key"] == "withdrawal_abstract")
    assert (never["alpha"], never["cells"]) == (None, 4)  # absent throughout: agreement cannot be told from chance
    plain = team.supervisor.api.get("/v1/aggregates/reliability", params={"rubric": RUBRIC}).json()
    assert plain["markers"] == []  # a session rubric has none


def test_3rs_session_items_without_a_rupture_count_nowhere(org: Org) -> None:
    """Without a rupture coded, the therapist's contribution to ruptures and their resolution rate nothing:
    the result calls them not applicable and the series has no value for them; with one, they count."""
    team = make_team(org)
    five = 300_000
    for number, present in ((1, False), (2, True)):
        recording_id = session(team, number, f"2026-06-0{number}")
        made = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": "3rs"})
        url = f"/v1/reviews/{made.json()['id']}"
        body = {"responses": coding([(0, five, present), (five, 2 * five, False)])}
        assert team.supervisor.api.patch(url, json=body, headers={"If-Match": '"1"'}).status_code == 200
        submitted = team.supervisor.api.post(f"{url}/submit").json()
        expected = [] if present else ["therapist_contribution", "resolution_extent"]
        assert submitted["result"]["not_applicable"] == expected
    series = team.supervisor.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/series",
        params={"rubric": "3rs", "bucket": "all", "role": "supervisor"},
    ).json()
    contribution = next(m for m in series["measures"] if m["key"] == "therapist_contribution")
    assert [b["n"] for b in contribution["buckets"]] == [1]  # session 2 only
