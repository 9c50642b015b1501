"""Review requests, drafts, submission, amendment, acknowledgement, annotations, and who may do each."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from supervise.runtime import Runtime
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, RUBRIC, complete, full, make_team, save
from tests.support import Org
from tests.test_http import assert_problem


def fields(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem.get("errors", [])]


# ------------------------------------------------------------------------------------------ assignment


def test_who_may_assign_and_to_whom(org: Org) -> None:
    team = make_team(org)
    # a supervisor of the therapist assigns a peer, and themself as supervisor
    peer_request = team.request(team.supervisor, team.peer, "peer", due_on="2026-12-10", note="Minute 31, please.")
    assert peer_request["state"] == "open"
    assert peer_request["rubric"] == {"key": RUBRIC, "version": "1.1"}  # the latest, pinned
    assert peer_request["therapist_id"] == team.therapist.id
    assert peer_request["requested_by_id"] == team.supervisor.id
    assert peer_request["due_on"] == "2026-12-10"
    team.request(team.supervisor, team.supervisor, "supervisor")
    # the therapist may ask a peer, and for a self-rating, but not assign supervisor review
    other_peer = org.member("clinician")
    team.request(team.therapist, other_peer, "peer")
    team.request(team.therapist, team.therapist, "self")
    assert_problem(team.assign(team.therapist, team.supervisor, "supervisor"), 403)
    # an admin may assign anyone who fits the role
    third_peer = org.member("clinician")
    team.request(org.admin, third_peer, "peer")
    # a peer sees the session they were asked to review but cannot assign it; a bystander cannot even name it
    assert_problem(team.assign(team.peer, team.bystander, "peer"), 403)
    problem = assert_problem(team.assign(team.bystander, team.peer, "peer"), 422)
    assert problem["errors"] == [{"field": "recording_id", "message": "no recording with this id"}]


def test_role_misuse_is_refused_and_changes_nothing(org: Org) -> None:
    team = make_team(org)
    cases = [
        ((team.supervisor, team.therapist, "peer"), "reviewer_id"),  # a peer may not review their own session
        ((team.supervisor, team.peer, "self"), "reviewer_id"),  # self is the therapist's own
        ((team.supervisor, team.peer, "supervisor"), "reviewer_id"),  # not a supervisor of the therapist
        ((team.supervisor, org.admin, "peer"), "reviewer_id"),  # peers are clinicians
    ]
    for (by, reviewer, role), field in cases:
        problem = assert_problem(team.assign(by, reviewer, role), 422)
        assert fields(problem) == [field], (role, problem)
    # the rubric must exist, in that version, and be rated by that role
    assert fields(assert_problem(team.assign(team.supervisor, team.peer, "peer", rubric_key="nope"), 422)) == [
        "rubric_key"
    ]
    bad_version = team.assign(team.supervisor, team.peer, "peer", rubric_version="9.9")
    assert fields(assert_problem(bad_version, 422)) == ["rubric_version"]
    client_rated = assert_problem(team.assign(team.supervisor, team.peer, "peer", rubric_key="srs"), 422)
    assert client_rated["errors"][0]["field"] == "role" and "client" in client_rated["errors"][0]["message"]
    assert org.admin.api.get("/v1/review-requests").json()["items"] == []


def test_one_live_request_per_reviewer_recording_and_rubric(org: Org) -> None:
    team = make_team(org)
    first = team.request(team.supervisor, team.peer, "peer")
    assert_problem(team.assign(org.admin, team.peer, "peer"), 409)
    cancelled = team.supervisor.api.post(f"/v1/review-requests/{first['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert_problem(team.supervisor.api.post(f"/v1/review-requests/{first['id']}/cancel"), 409)
    again = team.request(team.supervisor, team.peer, "peer")
    review = team.start(team.peer, again)
    complete(team.peer, review)
    # once reviewed, a new request is refused: the review is amended instead
    assert "amend" in assert_problem(team.assign(team.supervisor, team.peer, "peer"), 409)["detail"]


def test_no_review_without_consent(org: Org) -> None:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    url = f"/v1/recordings/{team.recording_id}"
    withdrawn = team.therapist.api.patch(url, json={"withdraw_consent": True}, headers={"If-Match": '"1"'})
    assert withdrawn.status_code == 200
    problem = assert_problem(team.assign(team.supervisor, team.bystander, "peer"), 422)
    assert fields(problem) == ["recording_id"]  # the supervisor no longer sees the recording
    problem = assert_problem(team.assign(org.admin, team.bystander, "peer"), 409)  # the admin sees it: its cause
    assert problem["type"].endswith("/consent-ended")
    assert problem["errors"] == [{"field": "recording_id", "message": "consent for supervision use is not active"}]
    # the peer's request is no longer served to them, so nothing can be started from it
    assert_problem(team.peer.api.get(f"/v1/review-requests/{request['id']}"), 404)
    assert_problem(team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}), 422)
    # the therapist and admins still see it
    assert team.therapist.api.get(f"/v1/review-requests/{request['id']}").status_code == 200


def test_expired_consent_hides_the_recording_and_its_reviews_from_reviewers(org: Org) -> None:
    team = make_team(org, consent={"scope": "supervision", "expires_at": "2020-01-01T00:00:00Z"})
    assert_problem(team.supervisor.api.get(f"/v1/recordings/{team.recording_id}"), 404)
    assert team.supervisor.api.get("/v1/recordings").json()["items"] == []
    assert team.therapist.api.get(f"/v1/recordings/{team.recording_id}").status_code == 200
    assert fields(assert_problem(team.assign(org.admin, team.peer, "peer"), 409)) == ["recording_id"]


def test_a_reviewer_lists_their_own_open_requests(org: Org) -> None:
    team = make_team(org)
    mine = team.request(team.supervisor, team.peer, "peer")
    team.request(team.supervisor, team.supervisor, "supervisor")
    listed = team.peer.api.get("/v1/review-requests", params={"reviewer": "me", "state": "open"}).json()["items"]
    assert [r["id"] for r in listed] == [mine["id"]]
    by_id = team.supervisor.api.get("/v1/review-requests", params={"reviewer": team.peer.id}).json()["items"]
    assert [r["id"] for r in by_id] == [mine["id"]]
    review = team.start(team.peer, mine)
    assert team.peer.api.get("/v1/review-requests", params={"reviewer": "me", "state": "open"}).json()["items"] == []
    started = team.peer.api.get(f"/v1/review-requests/{mine['id']}").json()
    assert (started["state"], started["review_id"]) == ("in_progress", review["id"])
    assert_problem(team.peer.api.get("/v1/review-requests", params={"reviewer": "someone"}), 400)
    assert_problem(team.peer.api.get("/v1/review-requests", params={"state": "closed"}), 400)


# ----------------------------------------------------------------------------------------------- drafts


def test_starting_a_review(org: Org) -> None:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    # only the request's reviewer starts it, once
    assert_problem(team.bystander.api.post("/v1/reviews", json={"request_id": request["id"]}), 422)
    assert_problem(team.supervisor.api.post("/v1/reviews", json={"request_id": request["id"]}), 403)
    review = team.start(team.peer, request)
    assert (review["state"], review["role"], review["revision"]) == ("draft", "peer", 1)
    assert review["request_id"] == request["id"]
    assert review["responses"] == {"items": {}, "segments": []}
    assert review["result"] is None
    assert_problem(team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}), 409)
    # directly: the supervisor as supervisor, the therapist as self; a peer needs a request
    assert team.direct(team.supervisor)["role"] == "supervisor"
    assert team.direct(team.therapist)["role"] == "self"
    direct = {"recording_id": team.recording_id, "rubric_key": RUBRIC}
    assert_problem(team.peer.api.post("/v1/reviews", json=direct), 403)
    assert_problem(team.supervisor.api.post("/v1/reviews", json=direct), 409)  # already reviewing it
    assert_problem(team.bystander.api.post("/v1/reviews", json=direct), 422)
    assert_problem(org.admin.api.post("/v1/reviews", json=direct), 403)
    # the two ways do not mix, and one of them is needed
    mixed = assert_problem(team.peer.api.post("/v1/reviews", json={**direct, "request_id": request["id"]}), 422)
    assert fields(mixed) == ["recording_id", "rubric_key"]
    assert fields(assert_problem(team.peer.api.post("/v1/reviews", json={}), 422)) == ["recording_id", "rubric_key"]


def test_draft_saves_are_validated_against_the_rubric(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    url = f"/v1/reviews/{review['id']}"
    saved = save(team.supervisor, review, responses={"items": {"rapport": 6, "trust": 2}}, comment="Warm start.")
    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] == '"2"'
    assert saved.json()["responses"]["items"] == {"rapport": 6, "trust": 2}
    out_of_range = assert_problem(save(team.supervisor, review, responses={"items": {"rapport": 9}}), 422)
    assert out_of_range["errors"][0]["field"] == "responses.items.rapport"
    assert "1" in out_of_range["errors"][0]["message"] and "7" in out_of_range["errors"][0]["message"]
    unknown = assert_problem(save(team.supervisor, review, responses={"items": {"charisma": 4}}), 422)
    assert unknown["errors"][0]["field"] == "responses.items.charisma"
    not_a_number = save(team.supervisor, review, responses={"items": {"rapport": "high"}})
    assert_problem(not_a_number, 400)
    # preconditions: none is 428, stale is 412
    assert_problem(team.supervisor.api.patch(url, json={"comment": "x"}), 428)
    assert_problem(team.supervisor.api.patch(url, json={"comment": "x"}, headers={"If-Match": '"1"'}), 412)
    # none of the failures changed the draft
    current = team.supervisor.api.get(url)
    assert current.headers["etag"] == '"2"'
    assert current.json()["responses"]["items"] == {"rapport": 6, "trust": 2}
    assert current.json()["comment"] == "Warm start."
    # null clears the comment; a field left out is kept
    cleared = save(team.supervisor, review, comment=None).json()
    assert cleared["comment"] is None and cleared["responses"]["items"] == {"rapport": 6, "trust": 2}
    # only the reviewer edits (an admin sees drafts, the therapist does not)
    admin_edit = org.admin.api.patch(url, json={"comment": "x"}, headers={"If-Match": '"3"'})
    assert_problem(admin_edit, 403)
    assert_problem(team.therapist.api.patch(url, json={"comment": "x"}, headers={"If-Match": '"3"'}), 404)


def test_submitting_an_incomplete_review_lists_what_is_missing(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    save(team.supervisor, review, responses={"items": {"rapport": 6, "trust": 5}})
    problem = assert_problem(team.supervisor.api.post(f"/v1/reviews/{review['id']}/submit"), 422)
    missing = [f"responses.items.{item}" for item in ITEMS if item not in ("rapport", "trust")]
    assert sorted(fields(problem)) == sorted(missing)
    assert {e["message"] for e in problem["errors"]} == {"required"}
    assert team.supervisor.api.get(f"/v1/reviews/{review['id']}").json()["state"] == "draft"


def test_submission_scores_and_freezes_the_review(org: Org) -> None:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    review = team.start(team.peer, request)
    submitted = complete(team.peer, review, value=3, warmth=2)
    assert submitted["state"] == "submitted" and submitted["submitted_at"]
    assert submitted["result"]["scores"]["total"] == (3 * 7 + 2) / 8
    assert {flag["code"] for flag in submitted["result"]["flags"]} == {"below_neutral", "item_strained"}
    assert team.peer.api.get(f"/v1/review-requests/{request['id']}").json()["state"] == "done"
    url = f"/v1/reviews/{review['id']}"
    etag = team.peer.api.get(url).headers["etag"]
    assert_problem(team.peer.api.patch(url, json={"comment": "late"}, headers={"If-Match": etag}), 409)
    assert_problem(team.peer.api.post(f"{url}/submit"), 409)
    assert_problem(team.peer.api.post(f"{url}/annotations", json={"start_ms": 0, "kind": "note", "text": "x"}), 409)
    assert_problem(team.peer.api.delete(url), 409)
    assert team.peer.api.get(url).json() == {**submitted}
    # the rubric version used is snapshotted
    assert team.peer.api.get(f"/v1/rubrics/{RUBRIC}/versions/1.0").status_code == 200


def test_submit_with_a_stale_etag_is_412(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    save(team.supervisor, review, responses=full())
    url = f"/v1/reviews/{review['id']}/submit"
    assert_problem(team.supervisor.api.post(url, headers={"If-Match": '"1"'}), 412)
    assert team.supervisor.api.post(url, headers={"If-Match": '"2"'}).status_code == 200


def test_a_discarded_draft_reopens_its_request_and_cancelling_discards_the_draft(org: Org) -> None:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    review = team.start(team.peer, request)
    save(team.peer, review, responses=full())
    discarded = team.peer.api.delete(f"/v1/reviews/{review['id']}")
    assert discarded.status_code == 204
    assert_problem(team.peer.api.get(f"/v1/reviews/{review['id']}"), 404)
    reopened = team.peer.api.get(f"/v1/review-requests/{request['id']}").json()
    assert (reopened["state"], reopened["review_id"]) == ("open", None)
    again = team.start(team.peer, request)
    team.peer.api.post(f"/v1/reviews/{again['id']}/annotations", json={"start_ms": 0, "kind": "note", "text": "x"})
    cancelled = team.supervisor.api.post(f"/v1/review-requests/{request['id']}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["review_id"]) == ("cancelled", None)
    assert_problem(team.peer.api.get(f"/v1/reviews/{again['id']}"), 404)  # discarded with the assignment
    assert_problem(org.admin.api.get(f"/v1/reviews/{again['id']}/annotations"), 404)
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": again["id"]}).json()["items"]
    assert (events[0]["action"], events[0]["actor_member_id"]) == ("review.discard", team.supervisor.id)
    # the peer is no longer blind to, nor assigned to, this session; a new assignment starts afresh
    assert_problem(team.peer.api.get(f"/v1/recordings/{team.recording_id}"), 404)
    team.start(team.peer, team.request(team.supervisor, team.peer, "peer"))
    assert_problem(team.bystander.api.post(f"/v1/review-requests/{request['id']}/cancel"), 404)


def test_no_review_work_once_consent_has_ended(org: Org) -> None:
    team = make_team(org)
    own = team.direct(team.therapist)
    save(team.therapist, own, responses=full())
    submitted = team.direct(team.supervisor)
    complete(team.supervisor, submitted)
    withdrawn = team.therapist.api.patch(
        f"/v1/recordings/{team.recording_id}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
    )
    assert withdrawn.status_code == 200
    # the therapist still reads their own draft, but no review of the session goes on
    url = f"/v1/reviews/{own['id']}"
    etag = team.therapist.api.get(url).headers["etag"]
    assert_problem(team.therapist.api.patch(url, json={"comment": "x"}, headers={"If-Match": etag}), 409)
    assert_problem(team.therapist.api.post(f"{url}/submit"), 409)
    assert_problem(
        team.therapist.api.post(f"{url}/annotations", json={"start_ms": 0, "kind": "note", "text": "x"}), 409
    )
    assert_problem(team.supervisor.api.post(f"/v1/reviews/{submitted['id']}/amend", json={"reason": "x"}), 404)
    # a draft can still be discarded; answering feedback already given is not review work
    assert team.therapist.api.delete(url).status_code == 204
    acknowledged = team.therapist.api.post(f"/v1/reviews/{submitted['id']}/acknowledge", json={"usefulness": 3})
    assert acknowledged.status_code == 200


# ---------------------------------------------------------------------------------- amend and acknowledge


def test_amendment_keeps_the_earlier_revision(org: Org) -> None:
    team = make_team(org)
    first = team.direct(team.supervisor)
    annotation = {"start_ms": 60_000, "kind": "strength", "text": "Names the goal together.", "item_key": "trust"}
    assert team.supervisor.api.post(f"/v1/reviews/{first['id']}/annotations", json=annotation).status_code == 201
    complete(team.supervisor, first, value=4)
    assert_problem(team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={}), 400)
    assert_problem(team.therapist.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "mine"}), 403)
    made = team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "Trust was misread."})
    assert made.status_code == 201, made.text
    second = made.json()
    assert made.headers["location"] == f"/v1/reviews/{second['id']}"
    assert (second["state"], second["revision"], second["amends_id"]) == ("draft", 2, first["id"])
    assert second["amend_reason"] == "Trust was misread."
    assert second["responses"]["items"] == full(4)["items"]
    copied = team.supervisor.api.get(f"/v1/reviews/{second['id']}/annotations").json()["items"]
    assert [(a["start_ms"], a["item_key"]) for a in copied] == [(60_000, "trust")]
    assert_problem(team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "again"}), 409)
    # until the amendment is submitted, the therapist still sees (only) the first revision
    theirs = team.therapist.api.get("/v1/reviews").json()["items"]
    assert [r["id"] for r in theirs] == [first["id"]]
    complete(team.supervisor, second, value=4, trust=6)
    earlier_read = team.therapist.api.get(f"/v1/reviews/{first['id']}")
    earlier = earlier_read.json()
    assert earlier["superseded_by_id"] == second["id"] and earlier["responses"]["items"] == full(4)["items"]
    assert earlier_read.headers["etag"] == f'"{earlier["version"]}"' and earlier["version"] == 4  # it changed
    assert [r["id"] for r in team.therapist.api.get("/v1/reviews").json()["items"]] == [second["id"]]
    # a superseded revision is neither acknowledged nor amended
    ack = {"usefulness": 4}
    assert_problem(team.therapist.api.post(f"/v1/reviews/{first['id']}/acknowledge", json=ack), 409)
    assert_problem(team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "x"}), 409)


def test_the_therapist_acknowledges_and_answers(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    url = f"/v1/reviews/{review['id']}/acknowledge"
    complete(team.supervisor, review)
    assert_problem(team.supervisor.api.post(url, json={"usefulness": 5}), 403)
    assert_problem(team.therapist.api.post(url, json={"usefulness": 6}), 400)
    assert_problem(team.therapist.api.post(url, json={"response": "thanks"}), 400)
    answered = team.therapist.api.post(url, json={"usefulness": 4, "response": "I saw the rupture too."})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["state"] == "acknowledged"
    assert body["acknowledgement"]["usefulness"] == 4
    assert body["acknowledgement"]["response"] == "I saw the rupture too."
    assert_problem(team.therapist.api.post(url, json={"usefulness": 4}), 409)
    # the reviewer reads the answer
    assert team.supervisor.api.get(f"/v1/reviews/{review['id']}").json()["acknowledgement"]["usefulness"] == 4
    # self-ratings are not acknowledged
    own = team.direct(team.therapist)
    complete(team.therapist, own)
    assert_problem(team.therapist.api.post(f"/v1/reviews/{own['id']}/acknowledge", json={"usefulness": 3}), 409)


# ------------------------------------------------------------------------------------------- annotations


def test_annotations_are_time_coded_within_the_recording(org: Org) -> None:
    team = make_team(org, duration_ms=600_000)
    review = team.direct(team.supervisor)
    url = f"/v1/reviews/{review['id']}/annotations"

    def add(**body: Any) -> Any:
        return team.supervisor.api.post(url, json={"kind": "note", "text": "Moment.", **body})

    late = add(start_ms=300_000, end_ms=320_000, kind="rupture", text="Client withdraws.")
    assert late.status_code == 201, late.text
    assert late.headers["location"] == f"{url}/{late.json()['id']}"
    early = add(start_ms=10_000, kind="strength", item_key="rapport")
    same_start = add(start_ms=300_000, kind="repair")
    assert early.status_code == same_start.status_code == 201
    listed = team.supervisor.api.get(url).json()["items"]
    assert [a["id"] for a in listed] == [early.json()["id"], same_start.json()["id"], late.json()["id"]]
    for body, field in (
        ({"start_ms": 600_000}, "start_ms"),
        ({"start_ms": 5_000, "end_ms": 700_000}, "end_ms"),
        ({"start_ms": 5_000, "end_ms": 5_000}, "end_ms"),
        ({"start_ms": 5_000, "item_key": "charisma"}, "item_key"),
    ):
        assert fields(assert_problem(add(**body), 422)) == [field], body
    assert fields(assert_problem(add(start_ms=-1), 400)) == ["start_ms"]
    assert fields(assert_problem(add(start_ms=0, kind="insight"), 400)) == ["kind"]
    assert len(team.supervisor.api.get(url).json()["items"]) == 3
    # only the reviewer annotates; removing one
    assert_problem(org.admin.api.post(url, json={"start_ms": 0, "kind": "note", "text": "x"}), 403)
    assert team.supervisor.api.delete(f"{url}/{early.json()['id']}").status_code == 204
    assert_problem(team.supervisor.api.delete(f"{url}/{early.json()['id']}"), 404)
    assert len(team.supervisor.api.get(url).json()["items"]) == 2


def test_segments_must_lie_within_the_recording(org: Org) -> None:
    team = make_team(org, duration_ms=600_000)
    request = team.request(team.supervisor, team.supervisor, "supervisor", rubric_key="3rs")
    review = team.start(team.supervisor, request)
    segments = [{"start_ms": 0, "end_ms": 300_000}, {"start_ms": 300_000, "end_ms": 900_000}]
    problem = assert_problem(save(team.supervisor, review, responses={"segments": segments}), 422)
    assert fields(problem) == ["responses.segments[1]"]


def test_a_retried_submit_with_its_key_replays_the_answer(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    save(team.supervisor, review, responses=full())
    url = f"/v1/reviews/{review['id']}/submit"
    headers = {"Idempotency-Key": "submit-review-1"}
    first = team.supervisor.api.post(url, headers=headers)
    again = team.supervisor.api.post(url, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert_problem(team.supervisor.api.post(url), 409)  # without the key, a second submit is a conflict


def test_amending_a_review_whose_rubric_version_is_gone_is_refused(
    org: Org, client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its plugin no longer installs that version: an amendment could never be submitted, so it is refused at
    amend, with the problem type of its own cause, and no draft is left behind."""
    team = make_team(org)
    submitted = complete(team.supervisor, team.direct(team.supervisor))
    runtime: Runtime = client.app.state["runtime"]
    monkeypatch.delitem(runtime.registry.rubrics, (RUBRIC, submitted["rubric"]["version"]))
    refused = assert_problem(
        team.supervisor.api.post(f"/v1/reviews/{submitted['id']}/amend", json={"reason": "Misread."}), 409
    )
    assert refused["type"].endswith("/rubric-not-installed") and RUBRIC in refused["detail"]
    listed = team.supervisor.api.get(f"/v1/recordings/{team.recording_id}/reviews").json()["items"]
    assert [(r["id"], r["revision"]) for r in listed] == [(submitted["id"], 1)]


def test_reviews_filter_by_recording(org: Org) -> None:
    team = make_team(org)
    first = complete(team.supervisor, team.direct(team.supervisor))
    other = team.therapist.api.post("/v1/recordings", json=recording_body(team.case_id, session_number=7)).json()
    second = team.supervisor.api.post("/v1/reviews", json={"recording_id": other["id"], "rubric_key": RUBRIC}).json()
    everything = {r["id"] for r in team.supervisor.api.get("/v1/reviews").json()["items"]}
    assert {first["id"], second["id"]} <= everything
    only = team.supervisor.api.get("/v1/reviews", params={"recording_id": team.recording_id, "limit": 1}).json()
    assert ([r["id"] for r in only["items"]], only["has_more"]) == ([first["id"]], False)
    # a cursor of one recording's list is not one of another's
    two = team.supervisor.api.get("/v1/reviews", params={"limit": 1}).json()
    assert two["has_more"] is True
    crossed = {"recording_id": other["id"], "cursor": two["next_cursor"]}
    assert_problem(team.supervisor.api.get("/v1/reviews", params=crossed), 400)
    # a recording the caller cannot see is 404, byte for byte as one that does not exist
    hidden = team.bystander.api.get("/v1/reviews", params={"recording_id": team.recording_id})
    unknown = team.bystander.api.get("/v1/reviews", params={"recording_id": "0190f5c4-6a5e-7cc1-8000-000000000001"})
    assert assert_problem(hidden, 404) == assert_problem(unknown, 404)
