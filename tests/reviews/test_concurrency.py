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
from tests.test_http import assert_problem


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
    assert codes == [200] + [409] * 19, codes
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": review["id"]}).json()["items"]
    assert [e["action"] for e in events].count("review.submit") == 1


def ready_draft(team: Any, reviewer: Person) -> tuple[dict[str, Any], str]:
    review = team.direct(reviewer)
    url = f"/v1/reviews/{review['id']}"
    etag = reviewer.api.get(url).headers["etag"]
    assert reviewer.api.patch(url, json={"responses": full()}, headers={"If-Match": etag}).status_code == 200
    return review, url


def test_a_draft_is_submitted_or_discarded_never_half_of_each(org: Org) -> None:
    team = make_team(org)
    for _ in range(5):
        _, url = ready_draft(team, team.supervisor)
        note = team.supervisor.api.post(f"{url}/annotations", json={"start_ms": 0, "kind": "note", "text": "x"})
        assert note.status_code == 201
        calls = [("POST", f"{url}/submit"), ("DELETE", url)]
        submit, discard = together(2, lambda i, c=calls: team.supervisor.api.request(*c[i]))
        assert (submit.status_code, discard.status_code) in ((200, 409), (404, 204))
        after = team.supervisor.api.get(url)
        if submit.status_code == 200:
            assert after.json()["state"] == "submitted"
            assert len(team.supervisor.api.get(f"{url}/annotations").json()["items"]) == 1
            break  # the supervisor reviews this session once; a submitted review ends the rounds
        assert after.status_code == 404


def test_nothing_is_added_to_a_review_once_submitted(org: Org) -> None:
    team = make_team(org)
    _, url = ready_draft(team, team.supervisor)
    body = {"start_ms": 0, "kind": "note", "text": "late"}
    calls = [("POST", f"{url}/submit", None)] + [("POST", f"{url}/annotations", body)] * 9
    responses = together(10, lambda i: team.supervisor.api.request(calls[i][0], calls[i][1], json=calls[i][2]))
    assert responses[0].status_code == 200
    added = [r.json()["created_at"] for r in responses[1:] if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses[1:])
    submitted_at = team.supervisor.api.get(url).json()["submitted_at"]
    assert all(created < submitted_at for created in added)
    assert len(team.supervisor.api.get(f"{url}/annotations").json()["items"]) == len(added)


def test_two_amendments_at_once_make_one(org: Org) -> None:
    team = make_team(org)
    _, url = ready_draft(team, team.supervisor)
    assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    responses = together(10, lambda i: team.supervisor.api.post(f"{url}/amend", json={"reason": f"fix {i}"}))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9


def test_submit_racing_cancel_leaves_request_and_review_consistent(org: Org) -> None:
    team = make_team(org)
    for _ in range(5):
        peer = org.member("clinician")
        request = team.request(team.supervisor, peer, "peer")
        review = team.start(peer, request)
        url = f"/v1/reviews/{review['id']}"
        etag = peer.api.get(url).headers["etag"]
        assert peer.api.patch(url, json={"responses": full()}, headers={"If-Match": etag}).status_code == 200
        submit, cancel = together(
            2,
            lambda i, p=peer, u=url, r=request: p.api.post((f"{u}/submit", f"/v1/review-requests/{r['id']}/cancel")[i]),
        )
        state = team.supervisor.api.get(f"/v1/review-requests/{request['id']}").json()["state"]
        if submit.status_code == 200:
            assert (cancel.status_code, state) == (409, "done")
        else:
            assert (submit.status_code, cancel.status_code, state) == (404, 200, "cancelled")
            assert_problem(org.admin.api.get(url), 404)


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
