"""Role x route: every cell of the review workflow's permissions, proven over HTTP.

One session, one therapist. The supervisor has a draft (with an annotation) and supervises the therapist; a
peer submitted a review from a request; a second peer holds an open request. Both the supervisor (their own
draft) and the second peer (their open request) still owe a first review, so both are blind to the peer's
submitted review until they submit theirs; a bystander
clinician is not involved; the admin of another organisation sees nothing. 404 means "does not exist for
you" (never learn of it); 403 "you see it but may not do this"; 422 "the body names something you cannot
see". After every successful write the scenario is built again, so each cell starts from the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.recordings.test_api import recording_body
from tests.reviews.support import RUBRIC, complete, full, make_team, save
from tests.support import Org, Person

ROLES = ("admin", "supervisor", "therapist", "peer", "peer2", "bystander", "foreign")


@dataclass
class Scene:
    people: dict[str, Person]
    ids: dict[str, str]


def build(org: Org, other_org: Org) -> Scene:
    team = make_team(org)
    peer2 = org.member("clinician")
    peer_request = team.request(team.supervisor, team.peer, "peer")
    submitted = team.start(team.peer, peer_request)
    complete(team.peer, submitted)
    open_request = team.request(team.supervisor, peer2, "peer")
    draft = team.direct(team.supervisor)
    assert save(team.supervisor, draft, responses=full()).status_code == 200
    annotation = team.supervisor.api.post(
        f"/v1/reviews/{draft['id']}/annotations", json={"start_ms": 5_000, "kind": "note", "text": "Pause."}
    )
    assert annotation.status_code == 201
    second = team.therapist.api.post("/v1/recordings", json=recording_body(team.case_id, session_number=4))
    assert second.status_code == 201
    people = {
        "admin": org.admin,
        "supervisor": team.supervisor,
        "therapist": team.therapist,
        "peer": team.peer,
        "peer2": peer2,
        "bystander": team.bystander,
        "foreign": other_org.admin,
    }
    ids = {
        "recording": team.recording_id,
        "recording2": second.json()["id"],
        "open_request": open_request["id"],
        "peer_request": peer_request["id"],
        "draft": draft["id"],
        "annotation": annotation.json()["id"],
        "submitted": submitted["id"],
        "bystander_id": team.bystander.id,
    }
    return Scene(people, ids)


Call = Callable[[Person, dict[str, str]], httpx.Response]


def call(method: str, url: str, body: dict[str, Any] | None = None, **headers: str) -> Call:
    def run(person: Person, ids: dict[str, str]) -> httpx.Response:
        filled = {k: v.format(**ids) if isinstance(v, str) else v for k, v in (body or {}).items()}
        kwargs: dict[str, Any] = {"headers": headers} if headers else {}
        if body is not None:
            kwargs["json"] = filled
        return person.api.request(method, url.format(**ids), **kwargs)

    return run


# route -> expected status per role, in the order of ROLES
MATRIX: list[tuple[str, Call, tuple[int, ...]]] = [
    ("GET request", call("GET", "/v1/review-requests/{open_request}"), (200, 200, 200, 404, 200, 404, 404)),
    (
        "cancel request",
        call("POST", "/v1/review-requests/{open_request}/cancel"),
        (200, 200, 403, 404, 200, 404, 404),
    ),
    (
        "assign",
        call(
            "POST",
            "/v1/review-requests",
            {"recording_id": "{recording}", "reviewer_id": "{bystander_id}", "role": "peer", "rubric_key": RUBRIC},
        ),
        (201, 201, 201, 403, 403, 422, 422),
    ),
    (
        "start from request",
        call("POST", "/v1/reviews", {"request_id": "{open_request}"}),
        (403, 403, 403, 422, 201, 422, 422),
    ),
    (
        "start directly",
        call("POST", "/v1/reviews", {"recording_id": "{recording2}", "rubric_key": RUBRIC}),
        (403, 201, 201, 422, 422, 422, 422),
    ),
    ("GET draft", call("GET", "/v1/reviews/{draft}"), (200, 200, 404, 404, 404, 404, 404)),
    ("GET submitted", call("GET", "/v1/reviews/{submitted}"), (200, 404, 200, 200, 404, 404, 404)),
    (
        "save draft",
        call("PATCH", "/v1/reviews/{draft}", {"comment": "x"}, **{"If-Match": "*"}),
        (403, 200, 404, 404, 404, 404, 404),
    ),
    ("submit draft", call("POST", "/v1/reviews/{draft}/submit"), (403, 200, 404, 404, 404, 404, 404)),
    ("discard draft", call("DELETE", "/v1/reviews/{draft}"), (403, 204, 404, 404, 404, 404, 404)),
    (
        "annotate draft",
        call("POST", "/v1/reviews/{draft}/annotations", {"start_ms": 0, "kind": "note", "text": "x"}),
        (403, 201, 404, 404, 404, 404, 404),
    ),
    ("list draft annotations", call("GET", "/v1/reviews/{draft}/annotations"), (200, 200, 404, 404, 404, 404, 404)),
    (
        "remove annotation",
        call("DELETE", "/v1/reviews/{draft}/annotations/{annotation}"),
        (403, 204, 404, 404, 404, 404, 404),
    ),
    (
        "amend submitted",
        call("POST", "/v1/reviews/{submitted}/amend", {"reason": "x"}),
        (403, 404, 403, 201, 404, 404, 404),
    ),
    (
        "acknowledge submitted",
        call("POST", "/v1/reviews/{submitted}/acknowledge", {"usefulness": 4}),
        (403, 404, 200, 403, 404, 404, 404),
    ),
    (
        "list submitted annotations",
        call("GET", "/v1/reviews/{submitted}/annotations"),
        (200, 404, 200, 200, 404, 404, 404),
    ),
    ("GET recording", call("GET", "/v1/recordings/{recording}"), (200, 200, 200, 200, 200, 404, 404)),
    ("recording's reviews", call("GET", "/v1/recordings/{recording}/reviews"), (200, 200, 200, 200, 200, 404, 404)),
]


@pytest.mark.parametrize(("route", "run", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_role_by_route(org: Org, other_org: Org, route: str, run: Call, expected: tuple[int, ...]) -> None:
    scene: Scene | None = None
    answers = {}
    for role in ROLES:
        if scene is None:
            scene = build(org, other_org)
        response = run(scene.people[role], scene.ids)
        answers[role] = response.status_code
        if response.status_code < 300 and response.request.method != "GET":
            scene = None  # it changed something: the next role starts from a fresh scene
    assert answers == dict(zip(ROLES, expected, strict=True)), route


def test_lists_show_each_role_exactly_what_it_may_read(org: Org, other_org: Org) -> None:
    scene = build(org, other_org)
    draft, submitted = scene.ids["draft"], scene.ids["submitted"]
    open_request, done_request = scene.ids["open_request"], scene.ids["peer_request"]
    reviews = {
        "admin": {draft, submitted},
        "supervisor": {draft},  # blind to the peer's review while their own draft is pending
        "therapist": {submitted},
        "peer": {submitted},
        "peer2": set(),  # blind while their request is open
        "bystander": set(),
        "foreign": set(),
    }
    requests = {
        "admin": {open_request, done_request},
        "supervisor": {open_request, done_request},
        "therapist": {open_request, done_request},
        "peer": {done_request},
        "peer2": {open_request},
        "bystander": set(),
        "foreign": set(),
    }
    for role in ROLES:
        api = scene.people[role].api
        assert {r["id"] for r in api.get("/v1/reviews").json()["items"]} == reviews[role], role
        assert {r["id"] for r in api.get("/v1/review-requests").json()["items"]} == requests[role], role
        for review_id in (draft, submitted):
            assert (api.get(f"/v1/reviews/{review_id}").status_code == 200) == (review_id in reviews[role]), role


def test_a_key_without_the_reviews_scopes_is_refused(org: Org) -> None:
    team = make_team(org)
    reader = org.member("supervisor", scopes=["reviews:read", "recordings:read"])
    link = {"supervisor_id": reader.id, "supervisee_id": team.therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    direct = {"recording_id": team.recording_id, "rubric_key": RUBRIC}
    assert reader.api.post("/v1/reviews", json=direct).status_code == 403
    assert reader.api.get("/v1/reviews").status_code == 200
    writer = org.member("supervisor", scopes=["recordings:read"])
    assert writer.api.get("/v1/reviews").status_code == 403
    assert writer.api.get("/v1/review-requests").status_code == 403
