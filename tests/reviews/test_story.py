"""The whole story over HTTP, in two clinics at once: from a recorded session to feedback answered.

A clinic system pushes a session; the supervisor assigns peer review and a self-rating; the therapist asks a
colleague too; peers review blind, pin comments to moments, submit; the therapist rates themself, reads the
feedback, answers it; a reviewer corrects their review; nobody in the other clinic ever sees any of it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.reviews.support import ITEMS, RUBRIC, full
from tests.support import Org, Person
from tests.test_http import assert_problem


def etag_of(person: Person, url: str) -> str:
    response = person.api.get(url)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def review_with(reviewer: Person, request_id: str, values: dict[str, int], notes: list[dict[str, Any]]) -> str:
    """Start a review from a request, save it in two steps, annotate it, submit it."""
    started = reviewer.api.post("/v1/reviews", json={"request_id": request_id})
    assert started.status_code == 201, started.text
    url = f"/v1/reviews/{started.json()['id']}"
    half = dict(list(values.items())[:4])
    saved = reviewer.api.patch(url, json={"responses": {"items": half}}, headers={"If-Match": etag_of(reviewer, url)})
    assert saved.status_code == 200, saved.text
    missing = assert_problem(reviewer.api.post(f"{url}/submit"), 422)
    assert {e["field"] for e in missing["errors"]} == {f"responses.items.{k}" for k in list(values)[4:]}
    body = {"responses": {"items": values}, "comment": "Thoughtful work with a hard session."}
    assert reviewer.api.patch(url, json=body, headers={"If-Match": etag_of(reviewer, url)}).status_code == 200
    for note in notes:
        assert reviewer.api.post(f"{url}/annotations", json=note).status_code == 201
    submitted = reviewer.api.post(f"{url}/submit")
    assert submitted.status_code == 200, submitted.text
    return str(started.json()["id"])


def story(org: Org) -> dict[str, Any]:
    supervisor = org.member("supervisor", name="Dr Ada Okafor")
    therapist = org.member("clinician", name="Sam Rivera")
    peer = org.member("clinician", name="Lee Chen")
    colleague = org.member("clinician", name="Noor Haddad")
    # the clinic system: an integration with the admin role, its key narrowed to recordings
    ehr = org.member("admin", kind="integration", name="EHR sync", scopes=["recordings:read", "recordings:write"])
    link = {"supervisor_id": supervisor.id, "supervisee_id": therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201

    # the clinic system registers the dyad and pushes the session (twice: the second push finds the first)
    case = ehr.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-2026-0042"})
    assert case.status_code == 201, case.text
    session = {
        "case_id": case.json()["id"],
        "occurred_at": "2026-11-20T14:00:00+01:00",
        "session_number": 5,
        "duration_ms": 50 * 60_000,
        "medium": "video",
        "media": {"uri": "s3://clinic/sessions/0042-05.mp4", "sha256": hashlib.sha256(b"0042-05").hexdigest()},
        "consent": {"scope": "supervision", "expires_at": "2027-11-20T00:00:00Z"},
        "external_id": "ehr-session-0042-05",
    }
    first = ehr.api.post("/v1/recordings", json=session)
    again = ehr.api.post("/v1/recordings", json=session)
    assert (first.status_code, again.status_code) == (201, 200)
    recording_id = first.json()["id"]

    # assignments: the supervisor asks a peer and the therapist's self-rating; the therapist asks a colleague
    def assign(by: Person, reviewer: Person, role: str, **extra: Any) -> str:
        body = {"recording_id": recording_id, "reviewer_id": reviewer.id, "role": role, "rubric_key": RUBRIC}
        made = by.api.post("/v1/review-requests", json={**body, **extra}, headers={"Idempotency-Key": role + "-1"})
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    peer_request = assign(supervisor, peer, "peer", due_on="2026-12-01", note="Watch minutes 30 to 35.")
    self_request = assign(supervisor, therapist, "self")
    colleague_request = assign(therapist, colleague, "peer")
    todo = peer.api.get("/v1/review-requests", params={"reviewer": "me", "state": "open"}).json()["items"]
    assert [(r["id"], r["due_on"], r["note"]) for r in todo] == [
        (peer_request, "2026-12-01", "Watch minutes 30 to 35.")
    ]
    assert peer.api.get(f"/v1/recordings/{recording_id}").status_code == 200  # a reviewer sees the session
    assert ehr.api.get("/v1/reviews").status_code == 403  # the integration's key reaches recordings only

    # the first peer reviews, with comments pinned to the rupture and its repair
    notes = [
        {"start_ms": 31 * 60_000, "end_ms": 32 * 60_000, "kind": "rupture", "text": "Client goes quiet."},
        {"start_ms": 33 * 60_000, "kind": "repair", "text": "Therapist names it.", "item_key": "collaboration"},
    ]
    peer_review = review_with(peer, peer_request, dict.fromkeys(ITEMS, 5) | {"trust": 2}, notes)
    result = peer.api.get(f"/v1/reviews/{peer_review}").json()["result"]
    assert result["scores"]["total"] == (5 * 7 + 2) / 8
    assert [f["code"] for f in result["flags"]] == ["item_strained"]

    # blind: the colleague and the therapist (self-rating pending) cannot see it until theirs is in
    for blind in (colleague, therapist):
        assert_problem(blind.api.get(f"/v1/reviews/{peer_review}"), 404)
    colleague_review = review_with(colleague, colleague_request, dict.fromkeys(ITEMS, 6), [])
    assert colleague.api.get(f"/v1/reviews/{peer_review}").status_code == 200
    self_review = review_with(therapist, self_request, dict.fromkeys(ITEMS, 4), [])

    # the supervisor reviews too, directly; the therapist now sees every submitted review of the session
    direct = supervisor.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": RUBRIC})
    assert direct.status_code == 201
    supervisor_review = direct.json()["id"]
    url = f"/v1/reviews/{supervisor_review}"
    assert supervisor.api.patch(url, json={"responses": full(6)}, headers={"If-Match": '"1"'}).status_code == 200
    assert supervisor.api.post(f"{url}/submit", headers={"If-Match": '"2"'}).status_code == 200
    mine = therapist.api.get(f"/v1/recordings/{recording_id}/reviews").json()["items"]
    assert {r["id"] for r in mine} == {peer_review, colleague_review, self_review, supervisor_review}
    pinned = therapist.api.get(f"/v1/reviews/{peer_review}/annotations").json()["items"]
    assert [(a["kind"], a["item_key"]) for a in pinned] == [("rupture", None), ("repair", "collaboration")]

    # two-way: the therapist answers the feedback and rates its usefulness; reviewers read the answers
    for review_id, usefulness in ((peer_review, 5), (supervisor_review, 3)):
        answer = {"usefulness": usefulness, "response": "Thank you: I felt that silence too."}
        acknowledged = therapist.api.post(f"/v1/reviews/{review_id}/acknowledge", json=answer)
        assert acknowledged.status_code == 200, acknowledged.text
    assert peer.api.get(f"/v1/reviews/{peer_review}").json()["acknowledgement"]["usefulness"] == 5

    # the peer corrects a score; the earlier revision stays readable, the list shows the current one
    amended = peer.api.post(f"/v1/reviews/{peer_review}/amend", json={"reason": "Trust was misread."})
    assert amended.status_code == 201
    revision = amended.json()["id"]
    etag = etag_of(peer, f"/v1/reviews/{revision}")
    saved = peer.api.patch(f"/v1/reviews/{revision}", json={"responses": full(5)}, headers={"If-Match": etag})
    assert saved.status_code == 200, saved.text
    resubmitted = peer.api.post(f"/v1/reviews/{revision}/submit")
    assert resubmitted.status_code == 200, resubmitted.text
    assert resubmitted.json()["responses"]["items"]["trust"] == 5
    assert resubmitted.json()["result"]["flags"] == []
    current = {r["id"] for r in therapist.api.get("/v1/reviews", params={"reviewer": peer.id}).json()["items"]}
    assert current == {revision}
    assert therapist.api.get(f"/v1/reviews/{peer_review}").json()["superseded_by_id"] == revision

    # the admin's audit trail shows who read and changed the review
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": peer_review}).json()["items"]
    assert {"review.create", "review.update", "review.submit", "review.acknowledge", "review.read"} <= {
        e["action"] for e in events
    }
    return {
        "recording": recording_id,
        "reviews": [peer_review, colleague_review, self_review, supervisor_review, revision],
        "requests": [peer_request, self_request, colleague_request],
        "people": [supervisor, therapist, peer, colleague, org.admin],
    }


def test_the_whole_story_in_two_clinics(org: Org, other_org: Org) -> None:
    here, there = story(org), story(other_org)
    for mine, theirs in ((here, there), (there, here)):
        for person in mine["people"]:
            assert_problem(person.api.get(f"/v1/recordings/{theirs['recording']}"), 404)
            assert_problem(person.api.get(f"/v1/recordings/{theirs['recording']}/reviews"), 404)
            for review_id in theirs["reviews"]:
                assert_problem(person.api.get(f"/v1/reviews/{review_id}"), 404)
            for request_id in theirs["requests"]:
                assert_problem(person.api.get(f"/v1/review-requests/{request_id}"), 404)
            listed = {r["id"] for r in person.api.get("/v1/reviews", params={"limit": 200}).json()["items"]}
            assert listed.isdisjoint(theirs["reviews"])
