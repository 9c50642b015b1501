"""Races a front end and a clinic system really run: double saves, retried POSTs, paging while others write.

These run on every backend; on PostgreSQL the requests truly overlap (a pool of connections, row locks).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.reviews.support import RUBRIC, full, make_team
from tests.support import Org, Person


def together(count: int, call: Any) -> list[httpx.Response]:
    """Run ``call(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> httpx.Response:
        barrier.wait()
        return call(index)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_two_saves_with_the_same_etag_one_wins_the_other_is_412(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    url = f"/v1/reviews/{review['id']}"
    for round_ in range(5):
        etag = team.supervisor.api.get(url).headers["etag"]
        bodies = [{"responses": {"items": {"rapport": 2}}}, {"responses": {"items": {"rapport": 7}}}]
        headers = {"If-Match": etag}
        responses = together(2, lambda i, b=bodies, h=headers: team.supervisor.api.patch(url, json=b[i], headers=h))
        assert sorted(r.status_code for r in responses) == [200, 412], (round_, [r.text for r in responses])
        winner = next(r for r in responses if r.status_code == 200).json()
        stored = team.supervisor.api.get(url).json()
        assert stored["responses"] == winner["responses"] and stored["version"] == winner["version"]


def test_twenty_identical_posts_with_one_key_create_one_request(org: Org) -> None:
    team = make_team(org)
    body = {"recording_id": team.recording_id, "reviewer_id": team.peer.id, "role": "peer", "rubric_key": RUBRIC}
    headers = {"Idempotency-Key": "assign-peer-0001"}
    responses = together(20, lambda _: team.supervisor.api.post("/v1/review-requests", json=body, headers=headers))
    assert {r.status_code for r in responses} == {201}, {r.text for r in responses}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(team.supervisor.api.get("/v1/review-requests").json()["items"]) == 1


def test_twenty_racing_assignments_without_a_key_make_one(org: Org) -> None:
    team = make_team(org)
    body = {"recording_id": team.recording_id, "reviewer_id": team.peer.id, "role": "peer", "rubric_key": RUBRIC}
    responses = together(20, lambda _: team.supervisor.api.post("/v1/review-requests", json=body))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert len(team.supervisor.api.get("/v1/review-requests").json()["items"]) == 1


def test_twenty_racing_submits_score_once(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    url = f"/v1/reviews/{review['id']}"
    etag = team.supervisor.api.get(url).headers["etag"]
    assert team.supervisor.api.patch(url, json={"responses": full()}, headers={"If-Match": etag}).status_code == 200
    responses = together(20, lambda _: team.supervisor.api.post(f"{url}/submit"))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1 and set(codes) <= {200, 409, 412}, codes
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": review["id"]}).json()["items"]
    assert [e["action"] for e in events].count("review.submit") == 1


def page_through(person: Person, url: str, insert: Any) -> list[str]:
    """Every id of a list, two per page, while another client keeps inserting."""
    stop = threading.Event()

    def keep_inserting() -> None:
        while not stop.is_set():
            insert()

    seen: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        inserter = pool.submit(keep_inserting)
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = person.api.get(url, params=params).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        stop.set()
        inserter.result()
    return seen


def test_paging_requests_and_reviews_while_others_insert(org: Org) -> None:
    team = make_team(org)
    recordings = [team.recording_id]
    for number in range(4, 9):
        body: dict[str, Any] = {**team.recording, "session_number": number}
        for field in ("id", "therapist_id", "version", "created_at", "updated_at", "external_id"):
            body.pop(field)
        body["consent"] = {"scope": "supervision"}
        made = team.therapist.api.post("/v1/recordings", json=body)
        assert made.status_code == 201, made.text
        recordings.append(made.json()["id"])
    for recording_id in recordings:
        started = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": RUBRIC})
        assert started.status_code == 201
    before_reviews = {r["id"] for r in org.admin.api.get("/v1/reviews").json()["items"]}
    peers = [org.member("clinician") for _ in range(40)]
    queue = iter(peers)

    def assign_next() -> None:
        peer = next(queue, None)
        if peer is None:
            return
        body = {"recording_id": recordings[0], "reviewer_id": peer.id, "role": "peer", "rubric_key": RUBRIC}
        assert team.supervisor.api.post("/v1/review-requests", json=body).status_code == 201

    for _ in range(5):
        assign_next()
    before_requests = {r["id"] for r in org.admin.api.get("/v1/review-requests").json()["items"]}
    seen_requests = page_through(org.admin, "/v1/review-requests", assign_next)
    assert all(seen_requests.count(i) == 1 for i in before_requests)
    assert len(seen_requests) == len(set(seen_requests))

    rubrics = iter(["wai-o-s", "ctrs", "cts-r", "3rs", "miti"])

    def start_another() -> None:
        key = next(rubrics, None)
        if key is not None:
            body = {"recording_id": recordings[1], "rubric_key": key}
            assert team.supervisor.api.post("/v1/reviews", json=body).status_code == 201

    seen_reviews = page_through(org.admin, "/v1/reviews", start_another)
    assert all(seen_reviews.count(i) == 1 for i in before_reviews)
    assert len(seen_reviews) == len(set(seen_reviews))
