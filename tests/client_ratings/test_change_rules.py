"""Change rules across a case's sessions, applied when a rating is stored: the PCOMS rule of the SRS (the total
fell by 1 point or more since the client's previous session), checked against hand computation."""

from __future__ import annotations

import pytest

from supervise.rubrics import ChangeRule, Item, OrdinalScale, Rubric
from supervise.rubrics.registry import validate_rubric
from tests.client_ratings.test_client_ratings import ehr, session, srs
from tests.reviews.support import make_team
from tests.rubrics.test_registry import tiny
from tests.support import Org, Person

# (session, answers): the totals, worked by hand, and what the rule says of each against the one before
SESSIONS = [
    (1, (9.5, 9.5, 9.5, 9.5)),  # 38.0
    (2, (9.5, 9.5, 9.0, 9.5)),  # 37.5: fell 0.5
    (3, (9.0, 9.0, 9.0, 9.5)),  # 36.5: fell 1.0, exactly at the cut -> flagged
    (4, (9.1, 9.0, 9.0, 9.5)),  # 36.6: rose
    (5, (8.9, 9.0, 8.8, 9.0)),  # 35.7: fell 0.9, just beside the cut (below 36, a threshold of its own)
    (6, (9.2, 9.3, 9.2, 9.3)),  # 37.0: rose
    (7, (9.0, 8.9, 9.0, 9.0)),  # 35.9: fell 1.1 -> flagged
]


def fell_flags(person: Person, therapist_id: str) -> dict[str, str]:
    """recording id -> message of every total_fell_1 flag in the feed."""
    feed = person.api.get("/v1/aggregates/flags", params={"therapist_id": therapist_id, "limit": 100}).json()
    return {f["recording_id"]: f["message"] for f in feed["items"] if f["code"] == "total_fell_1"}


def test_the_pcoms_drop_is_flagged_exactly_where_hand_computation_puts_it(org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    recordings = {}
    for number, values in SESSIONS:
        day = f"2026-09-{number:02d}"
        recordings[number] = session(team, number, day)
        assert system.api.post("/v1/client-ratings", json=srs(recordings[number], values, day)).status_code == 201
    flagged = fell_flags(team.supervisor, team.therapist.id)
    assert set(flagged) == {recordings[3], recordings[7]}
    assert "37.5 in session 2, 36.5 in session 3" in flagged[recordings[3]]
    assert "37 in session 6, 35.9 in session 7" in flagged[recordings[7]]
    # a session rated late is compared both ways: session 10 (36.0) fell 1.0 from session 8 (37.0) until
    # session 9 (36.5) arrives between them; then neither 9 nor 10 fell by 1
    for number, values in ((8, (9.2, 9.3, 9.2, 9.3)), (10, (9.0, 9.0, 9.0, 9.0))):
        day = f"2026-09-{number:02d}"
        recordings[number] = session(team, number, day)
        assert system.api.post("/v1/client-ratings", json=srs(recordings[number], values, day)).status_code == 201
    assert set(fell_flags(team.supervisor, team.therapist.id)) == {recordings[3], recordings[7], recordings[10]}
    recordings[9] = session(team, 9, "2026-09-09")
    late = srs(recordings[9], (9.0, 9.0, 9.0, 9.5), "2026-09-09")
    assert system.api.post("/v1/client-ratings", json=late).status_code == 201
    assert set(fell_flags(team.supervisor, team.therapist.id)) == {recordings[3], recordings[7]}


def test_one_case_is_not_compared_with_another(org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    first = session(team, 1, "2026-09-01")
    assert system.api.post("/v1/client-ratings", json=srs(first, (10, 10, 10, 10), "2026-09-01")).status_code == 201
    other_case = team.therapist.api.post(
        "/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": "C-OTHER"}
    ).json()["id"]
    from tests.recordings.test_api import recording_body

    body = recording_body(other_case, session_number=2, occurred_at="2026-09-02T10:00:00Z")
    second = team.therapist.api.post("/v1/recordings", json=body).json()["id"]
    assert system.api.post("/v1/client-ratings", json=srs(second, (8, 8, 8, 8), "2026-09-02")).status_code == 201
    assert fell_flags(team.supervisor, team.therapist.id) == {}


def _rubric(*rules: ChangeRule) -> Rubric:
    """One 1-7 item "a" (so a total too), with these change rules."""
    return tiny(items=(Item(key="a", label="A", scale=OrdinalScale(min=1, max=7)),), change_rules=rules)


@pytest.mark.parametrize(
    ("rule", "fault"),
    [
        (dict(target="nope", drop_at_least=1), "targets 'nope'"),
        (dict(target="total"), "exactly one of"),
        (dict(target="total", drop_at_least=1, drop_share_over=0.1), "exactly one of"),
        (dict(target="total", drop_at_least=0), "above 0"),
        (dict(target="a", drop_share_over=1.5), "between 0 and 1"),
        (dict(target="total", drop_at_least=1, source=" "), "must name its source"),
    ],
)
def test_a_malformed_change_rule_is_refused_at_load(rule: dict[str, object], fault: str) -> None:
    made = ChangeRule(**{"key": "k", "severity": "info", "message": "m", "source": "s", **rule})  # type: ignore[arg-type]
    assert any(fault in message for message in validate_rubric(_rubric(made))), validate_rubric(_rubric(made))


def test_a_share_of_the_range_is_strictly_more_than_the_share() -> None:
    # 1-7: a share of 0.15 is 0.9 points; a fall of 0.9 is not more than that, 0.95 is
    rule = ChangeRule(key="k", target="a", drop_share_over=0.15, severity="info", message="m", source="s")
    rubric = _rubric(rule)
    assert validate_rubric(rubric) == []
    span = rubric.span("a")
    assert span == 6
    assert not rule.fell(5.0, 4.1, span) and rule.fell(5.0, 4.05, span)


def test_the_alliance_drop_of_more_than_a_share_of_its_range_is_flagged_by_hand(org: Org) -> None:
    """alliance 1.1: the total fell by more than 15% of its 1-7 range (0.9 points) since the same rater's
    previous session. Totals worked by hand: 5.0, 4.125 (fell 0.875), 3.0 (fell 1.125: flagged), 3.0; a second
    supervisor's 3.0 on session 2 is compared with nobody (their first session of the case)."""
    from tests.aggregates.test_series import review

    team = make_team(org)
    other = org.member("supervisor")
    link = {"supervisor_id": other.id, "supervisee_id": team.therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    items = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]
    plan = {1: [5] * 8, 2: [4] * 7 + [5], 3: [3] * 8, 4: [3] * 8}
    recordings = {}
    for number, values in plan.items():
        recordings[number] = session(team, number, f"2026-10-{number:02d}")
        made = review(team.supervisor, recordings[number], dict(zip(items, values, strict=True)))
        assert made["rubric"] == {"key": "alliance", "version": "1.1"}
        if number == 2:
            review(other, recordings[2], dict.fromkeys(items, 3))
    feed = team.supervisor.api.get("/v1/aggregates/flags", params={"therapist_id": team.therapist.id, "limit": 100})
    fell = [f for f in feed.json()["items"] if f["code"] == "total_fell_share"]
    assert [(f["recording_id"], f["threshold"], f["severity"]) for f in fell] == [
        (recordings[3], "total_fell_share", "warning")
    ]
    assert "4.125 in session 2, 3 in session 3" in fell[0]["message"]
