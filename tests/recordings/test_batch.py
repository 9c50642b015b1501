"""Bulk upsert of recordings: one result per item, each item its own unit, audited and evented as the single
endpoints are."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest

from supervise import problems
from supervise.errors import Conflict
from supervise.recordings import service
from tests.recordings.test_api import recording_body, setup_team
from tests.support import Org, Person
from tests.test_http import assert_problem

BATCH = "/v1/recordings:batch"


def item(case_id: str, n: int, **changes: Any) -> dict[str, Any]:
    media = {"uri": f"s3://clinic/rec/{n}.mp4", "sha256": hashlib.sha256(f"session {n}".encode()).hexdigest()}
    return recording_body(case_id, **{"session_number": n, "media": media, "external_id": f"ehr-{n}", **changes})


def push(who: Person, items: list[Any], **kwargs: Any) -> dict[str, Any]:
    answer = who.api.post(BATCH, json={"items": items}, **kwargs)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return dict(answer.json())


def events(org: Org) -> list[dict[str, Any]]:
    answer = org.admin.api.get("/v1/events", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def audit_actions(org: Org, recording_id: str) -> list[str]:
    found = org.admin.api.get("/v1/audit-events", params={"resource_id": recording_id}).json()["items"]
    return [e["action"] for e in reversed(found)]


def test_created_unchanged_updated_and_failed_in_order(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    first = push(therapist, [item(case_id, 1), item(case_id, 2)])
    assert [(r["index"], r["result"], r["status"]) for r in first["items"]] == [
        (0, "created", 201),
        (1, "created", 201),
    ]
    assert (first["created"], first["unchanged"], first["updated"], first["failed"]) == (2, 0, 0, 0)
    made = {r["external_id"]: r["recording"] for r in first["items"]}
    assert made["ehr-1"]["session_number"] == 1 and made["ehr-1"]["case_id"] == case_id
    assert therapist.api.get(f"/v1/recordings/{made['ehr-1']['id']}").json() == made["ehr-1"]

    later = {"scope": "supervision_and_training", "expires_at": "2031-01-01T00:00:00Z"}
    again = push(
        therapist,
        [
            item(case_id, 1),
            item(case_id, 2, consent=later),
            item(case_id, 3, duration_ms=0),
            item(case_id, 4),
        ],
    )
    results = again["items"]
    assert [r["result"] for r in results] == ["unchanged", "updated", "failed", "created"]
    assert [r["status"] for r in results] == [200, 200, 400, 201]
    assert results[0]["recording"] == made["ehr-1"]
    updated = results[1]["recording"]
    assert updated["id"] == made["ehr-2"]["id"] and updated["version"] == 2
    assert updated["consent"]["scope"] == "supervision_and_training"
    assert updated["consent"]["expires_at"] == "2031-01-01T00:00:00Z"
    problem = results[2]["problem"]
    assert results[2]["recording"] is None and results[2]["external_id"] == "ehr-3"
    assert problem["type"].endswith("/invalid-request") and problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == ["duration_ms"]
    listed = therapist.api.get("/v1/recordings").json()["items"]
    assert sorted(r["external_id"] for r in listed) == ["ehr-1", "ehr-2", "ehr-4"]


def test_each_item_is_audited_and_evented_as_the_single_endpoints(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    before = len(events(org))
    results = push(therapist, [item(case_id, 1), item(case_id, 2)])["items"]
    first, second = (r["recording"]["id"] for r in results)
    push(therapist, [item(case_id, 1), item(case_id, 2, consent={"scope": "supervision", "expires_at": None})])
    # Removing an expiry is refused, as PATCH cannot either; a later one is an update.
    refused = push(therapist, [item(case_id, 2, consent={"scope": "supervision"})])["items"][0]
    assert refused["status"] == 422 and refused["problem"]["errors"][0]["field"] == "consent.expires_at"
    push(therapist, [item(case_id, 2, consent={"scope": "supervision", "expires_at": "2031-01-01T00:00:00Z"})])
    appended = events(org)[before:]
    assert [(e["type"], e["data"]["recording_id"]) for e in appended] == [
        ("recording.created", first),
        ("recording.created", second),
        ("recording.consent_changed", second),
    ]
    assert appended[2]["data"]["consent_active"] is True
    assert audit_actions(org, first)[:2] == ["recording.create", "recording.read"]
    assert audit_actions(org, second)[:2] == ["recording.create", "recording.update"]


def test_a_field_that_never_changes_is_a_conflict_naming_it(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    other_case = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-2"}).json()
    original = push(therapist, [item(case_id, 1)])["items"][0]["recording"]
    changed = item(case_id, 1, media={"uri": "s3://clinic/rec/1.mp4", "sha256": "0" * 64}, medium="audio")
    moved = item(other_case["id"], 1)
    results = [push(therapist, [changed])["items"][0], push(therapist, [moved])["items"][0]]
    for result in results:
        assert result["result"] == "failed" and result["status"] == 409, result
        assert result["problem"]["type"].endswith("/external-id-used")
        assert result["problem"]["recording_id"] == original["id"]
    assert [e["field"] for e in results[0]["problem"]["errors"]] == ["external_id", "medium", "media.sha256"]
    assert [e["field"] for e in results[1]["problem"]["errors"]] == ["external_id", "case_id"]
    assert therapist.api.get(f"/v1/recordings/{original['id']}").json() == original


def test_withdrawn_consent_stays_withdrawn(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    made = push(therapist, [item(case_id, 1)])["items"][0]["recording"]
    url = f"/v1/recordings/{made['id']}"
    withdrawn = therapist.api.patch(url, json={"withdraw_consent": True}, headers={"If-Match": '"1"'})
    assert withdrawn.status_code == 200, withdrawn.text
    assert push(therapist, [item(case_id, 1)])["items"][0]["result"] == "unchanged"
    again = push(therapist, [item(case_id, 1, consent={"scope": "supervision_and_training"})])["items"][0]
    assert again["status"] == 422 and again["problem"]["errors"][0]["field"] == "consent"
    assert therapist.api.get(url).json()["consent"]["withdrawn_at"] is not None


def test_a_failed_item_writes_nothing_and_the_others_are_written(org: Org) -> None:
    """The good items around a bad one commit; the bad one leaves no recording, audit event or outbox event."""
    _, therapist, _, case_id = setup_team(org)
    before = len(events(org))
    results = push(
        therapist,
        [item(case_id, 1), item(case_id, 2, occurred_at="2026-11-02T10:00:00"), {"nonsense": True}, item(case_id, 3)],
    )["items"]
    assert [r["result"] for r in results] == ["created", "failed", "failed", "created"]
    assert results[1]["problem"]["type"].endswith("/invalid-value")  # no timezone offset
    assert results[1]["problem"]["errors"] == [{"field": "occurred_at", "message": "needs a timezone offset"}]
    assert results[2]["problem"]["type"].endswith("/invalid-request") and results[2]["external_id"] is None
    assert Counter(e["type"] for e in events(org)[before:]) == {"recording.created": 2}


def test_an_item_failing_after_its_writes_leaves_nothing(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """An item that fails after writing its recording (a fault injected after the insert) rolls back to its
    savepoint: its row goes, and it gets no audit event or outbox event; the items around it stay."""
    _, therapist, _, case_id = setup_team(org)
    before = len(events(org))
    insert = service.write_recording

    async def failing_after_writes(tx: Any, principal: Any, case: Any, data: Any) -> Any:
        recording = await insert(tx, principal, case, data)
        if data.external_id == "ehr-2":
            raise Conflict(problems.CONCURRENT_WRITE, "raced")
        return recording

    monkeypatch.setattr(service, "write_recording", failing_after_writes)
    results = push(therapist, [item(case_id, 1), item(case_id, 2), item(case_id, 3)])["items"]
    assert [r["status"] for r in results] == [201, 409, 201]
    assert [r["external_id"] for r in therapist.api.get("/v1/recordings").json()["items"]] == ["ehr-1", "ehr-3"]
    assert Counter(e["type"] for e in events(org)[before:]) == {"recording.created": 2}
    chain = org.admin.api.get("/v1/audit-events", params={"limit": 200}).json()["items"]
    assert sum(1 for e in chain if e["action"] == "recording.create") == 2


def test_the_same_external_id_twice_fails_both(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    results = push(therapist, [item(case_id, 1), item(case_id, 2), item(case_id, 1, duration_ms=5)])["items"]
    assert [r["result"] for r in results] == ["failed", "created", "failed"]
    for result, other in ((results[0], "items[2]"), (results[2], "items[0]")):
        assert result["problem"]["type"].endswith("/batch-duplicate") and result["status"] == 422
        assert result["problem"]["errors"] == [{"field": "external_id", "message": f"also given at {other}"}]


def test_external_id_is_required_per_item(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    body = recording_body(case_id)
    result = push(therapist, [body])["items"][0]
    assert result["status"] == 400
    assert result["problem"]["errors"][0]["field"] == "external_id"


def test_batch_size_and_body_shape(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    for items in ([], [item(case_id, 1)] * 501):
        problem = assert_problem(therapist.api.post(BATCH, json={"items": items}), 422)
        assert problem["type"].endswith("/batch-size")
        assert [e["field"] for e in problem["errors"]] == ["items"]
    for body in ({"items": "no"}, {"nope": []}, [item(case_id, 1)]):
        assert_problem(therapist.api.post(BATCH, json=body), 400)
    malformed = therapist.api.post(BATCH, content=b'{"items": [', headers={"Content-Type": "application/json"})
    assert_problem(malformed, 400)
    assert therapist.api.get("/v1/recordings").json()["items"] == []


def test_permissions_and_tenancy_per_item(org: Org, other_org: Org) -> None:
    supervisor, _, bystander, case_id = setup_team(org)
    foreign = other_org.member("clinician")
    foreign_case = foreign.api.post("/v1/cases", json={"therapist_id": foreign.id, "external_ref": "X-1"}).json()
    results = push(org.admin, [item(case_id, 1), item(foreign_case["id"], 2)])["items"]
    assert [r["status"] for r in results] == [201, 422]
    assert results[1]["problem"]["errors"] == [{"field": "case_id", "message": "no case with this id"}]
    # A supervisor sees, but does not push, a supervisee's sessions; a bystander cannot name the case.
    assert push(supervisor, [item(case_id, 3)])["items"][0]["status"] == 403
    assert push(bystander, [item(case_id, 3)])["items"][0]["status"] == 422
    # A key without recordings:write is refused as a whole.
    reader = org.member("admin", scopes=["recordings:read"])
    assert_problem(reader.api.post(BATCH, json={"items": [item(case_id, 3)]}), 403)
    # The other organisation's pushes do not see this one's external_ids.
    other = push(foreign, [item(foreign_case["id"], 1)])["items"][0]
    assert other["result"] == "created" and other["recording"]["id"] != results[0]["recording"]["id"]


def test_idempotency_key_replays_the_answer(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    headers = {"Idempotency-Key": "batch-2026-11-02"}
    first = therapist.api.post(BATCH, json={"items": [item(case_id, 1)]}, headers=headers)
    again = therapist.api.post(BATCH, json={"items": [item(case_id, 1)]}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.json()["items"][0]["result"] == "created"
    assert again.headers["idempotent-replayed"] == "true"
    other = therapist.api.post(BATCH, json={"items": [item(case_id, 2)]}, headers=headers)
    assert_problem(other, 422)


def test_colon_path_routes_beside_recording_ids(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    made = push(therapist, [item(case_id, 1)])["items"][0]["recording"]
    assert therapist.api.get(f"/v1/recordings/{made['id']}").status_code == 200
    assert_problem(therapist.api.get(BATCH), 405)
    misplaced = therapist.api.post("/v1/recordings/:batch", json={"items": [item(case_id, 2)]})
    assert misplaced.status_code in (404, 405), misplaced.text  # not a recording id, and not the batch
    assert therapist.api.post("/v1/recordings", json=item(case_id, 1)).status_code == 200


def test_a_clinic_day_in_one_call(org: Org) -> None:
    """50 therapists with 6 sessions each: 300 items, one request."""
    cases = []
    for t in range(50):
        therapist = org.member("clinician")
        made = org.admin.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": f"C-{t}"})
        cases.append(made.json()["id"])
    items = [item(case, t * 6 + s + 1) for t, case in enumerate(cases) for s in range(6)]
    answer = push(org.admin, items)
    assert answer["created"] == 300 and answer["failed"] == 0
    assert [r["index"] for r in answer["items"]] == list(range(300))
    assert push(org.admin, items)["unchanged"] == 300


def test_a_batch_audits_and_announces_what_the_single_endpoints_would(org: Org, other_org: Org) -> None:
    """The same pushes, one by one (POST, then PATCH for the consent) in one organisation and as batches in
    another, leave the same audit trail and the same events, in the same order."""

    def trail(where: Org) -> tuple[list[tuple[str, str]], list[tuple[str, Any]]]:
        audited = where.admin.api.get("/v1/audit-events", params={"limit": 200}).json()["items"]
        mine = [(e["action"], e["resource_type"]) for e in reversed(audited) if e["action"].startswith("recording.")]
        seen = [(e["type"], {k: v for k, v in e["data"].items() if not k.endswith("_id")}) for e in events(where)]
        return mine, seen

    later = {"scope": "supervision_and_training", "expires_at": "2031-01-01T00:00:00Z"}
    trails = []
    for where in (org, other_org):
        therapist = where.member("clinician")
        case = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-1"}).json()
        first, second = item(case["id"], 1), item(case["id"], 2)
        if where is org:
            made = [therapist.api.post("/v1/recordings", json=body).json() for body in (first, second)]
            patched = therapist.api.patch(
                f"/v1/recordings/{made[1]['id']}",
                json={"consent_scope": later["scope"], "consent_expires_at": later["expires_at"]},
                headers={"If-Match": '"1"'},
            )
            assert patched.status_code == 200, patched.text
        else:
            push(therapist, [first, second])
            assert push(therapist, [first, {**second, "consent": later}])["updated"] == 1
        trails.append(trail(where))
    singles, batched = trails
    assert batched[1] == singles[1]
    assert [a for a in batched[0] if a[0] != "recording.read"] == [a for a in singles[0] if a[0] != "recording.read"]


def test_an_external_id_used_by_a_recording_the_caller_cannot_see_names_nothing_of_it(org: Org) -> None:
    """The 409 names the fields that differ only to someone who may see the recording; anyone else learns that
    the external_id is taken, not which of the hidden session's fields match what they sent."""
    _, therapist, bystander, case_id = setup_team(org)
    pushed = push(therapist, [item(case_id, 1)])["items"][0]["recording"]
    own = bystander.api.post("/v1/cases", json={"therapist_id": bystander.id, "external_ref": "B-1"}).json()
    for changes in ({}, {"duration_ms": 5}, {"medium": "audio", "session_number": 9}):
        result = push(bystander, [item(own["id"], 1, **changes)])["items"][0]
        assert result["status"] == 409 and result["problem"]["type"].endswith("/external-id-used")
        assert result["problem"]["errors"] == [{"field": "external_id", "message": "already used"}]
        assert "recording_id" not in result["problem"] and pushed["id"] not in result["problem"]["detail"]
        assert result["problem"]["detail"] == "A different recording was already pushed with this external_id."
