"""Cases and recordings: references only, visibility by supervision, audited reads, consent, idempotent sync."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support import Org, Person
from tests.test_http import assert_problem


def recording_body(case_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": case_id,
        "occurred_at": "2026-11-02T10:00:00+01:00",
        "session_number": 3,
        "duration_ms": 3_000_000,
        "medium": "video",
        "media": {"uri": "s3://clinic/rec/3.mp4", "sha256": hashlib.sha256(b"session 3").hexdigest()},
        "consent": {"scope": "supervision", "expires_at": "2030-01-01T00:00:00Z"},
    }
    return {**body, **changes}


def setup_team(org: Org) -> tuple[Person, Person, Person, str]:
    """A supervisor linked to a therapist, a bystander clinician, and a case of the therapist's."""
    supervisor = org.member("supervisor")
    therapist = org.member("clinician")
    bystander = org.member("clinician")
    link = {"supervisor_id": supervisor.id, "supervisee_id": therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    case = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-2024-0173"})
    assert case.status_code == 201, case.text
    return supervisor, therapist, bystander, case.json()["id"]


def test_visibility_of_a_therapists_recordings(org: Org) -> None:
    supervisor, therapist, bystander, case_id = setup_team(org)
    made = therapist.api.post("/v1/recordings", json=recording_body(case_id))
    assert made.status_code == 201
    recording = made.json()
    assert made.headers["location"] == f"/v1/recordings/{recording['id']}"
    assert recording["therapist_id"] == therapist.id
    assert recording["occurred_at"] == "2026-11-02T09:00:00Z"
    assert recording["consent"]["active"] is True
    for who in (therapist, supervisor, org.admin):
        assert who.api.get(f"/v1/recordings/{recording['id']}").status_code == 200
        assert [r["id"] for r in who.api.get("/v1/recordings").json()["items"]] == [recording["id"]]
        assert [c["id"] for c in who.api.get("/v1/cases").json()["items"]] == [case_id]
    assert_problem(bystander.api.get(f"/v1/recordings/{recording['id']}"), 404)
    assert_problem(bystander.api.get(f"/v1/cases/{case_id}"), 404)
    assert bystander.api.get("/v1/recordings").json()["items"] == []
    # a supervisor sees but does not register sessions for a supervisee
    assert_problem(supervisor.api.post("/v1/recordings", json=recording_body(case_id)), 403)
    # a bystander cannot even name the case
    problem = assert_problem(bystander.api.post("/v1/recordings", json=recording_body(case_id)), 422)
    assert problem["errors"] == [{"field": "case_id", "message": "no case with this id"}]


def test_every_read_is_audited(org: Org) -> None:
    supervisor, therapist, _, case_id = setup_team(org)
    recording = therapist.api.post("/v1/recordings", json=recording_body(case_id)).json()
    supervisor.api.get(f"/v1/recordings/{recording['id']}")
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": recording["id"]}).json()["items"]
    assert [(e["action"], e["actor_member_id"]) for e in events] == [
        ("recording.read", supervisor.id),
        ("recording.create", therapist.id),
    ]


def test_same_external_id_returns_the_same_recording(org: Org) -> None:
    _, _, _, case_id = setup_team(org)
    body = recording_body(case_id, external_id="ehr-rec-991")
    first = org.admin.api.post("/v1/recordings", json=body)
    again = org.admin.api.post("/v1/recordings", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = org.admin.api.post("/v1/recordings", json={**body, "session_number": 4})
    problem = assert_problem(other, 409)
    assert problem["errors"][0]["field"] == "external_id"
    assert len(org.admin.api.get("/v1/recordings").json()["items"]) == 1


def test_filters(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    early = therapist.api.post(
        "/v1/recordings", json=recording_body(case_id, occurred_at="2026-01-05T10:00:00Z")
    ).json()
    late = therapist.api.post(
        "/v1/recordings", json=recording_body(case_id, occurred_at="2026-06-05T10:00:00Z", session_number=4)
    ).json()

    def ids(**params: str) -> list[str]:
        return [r["id"] for r in org.admin.api.get("/v1/recordings", params=params).json()["items"]]

    assert ids(occurred_from="2026-03-01T00:00:00Z") == [late["id"]]
    assert ids(occurred_to="2026-03-01T00:00:00Z") == [early["id"]]
    assert ids(case_id=case_id) == [early["id"], late["id"]]
    assert ids(therapist_id=org.admin.id) == []
    assert ids(updated_since="2199-01-01T00:00:00Z") == []
    for bad, status in (("2026-03-01T00:00:00", 400), ("0.5", 400), ("2026-13-45T00:00:00Z", 422)):
        problem = assert_problem(org.admin.api.get("/v1/recordings", params={"occurred_from": bad}), status)
        assert problem["errors"][0]["field"] == "occurred_from"


def test_consent_withdrawal_is_final_and_needs_if_match(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    recording = therapist.api.post("/v1/recordings", json=recording_body(case_id)).json()
    url = f"/v1/recordings/{recording['id']}"
    assert_problem(therapist.api.patch(url, json={"withdraw_consent": True}), 428)
    withdrawn = therapist.api.patch(url, json={"withdraw_consent": True}, headers={"If-Match": '"1"'})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"]["active"] is False
    assert withdrawn.json()["consent"]["withdrawn_at"] is not None
    problem = assert_problem(
        therapist.api.patch(url, json={"consent_scope": "supervision"}, headers={"If-Match": '"2"'}), 422
    )
    assert problem["errors"][0]["field"] == "consent_scope"


def test_references_only_and_no_names(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    bad_ref = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "Jane Doe"})
    assert assert_problem(bad_ref, 400)["errors"][0]["field"] == "external_ref"
    bad_hash = therapist.api.post(
        "/v1/recordings", json=recording_body(case_id, media={"uri": "s3://x/y", "sha256": "abc"})
    )
    assert assert_problem(bad_hash, 400)["errors"][0]["field"] == "media.sha256"
    duplicate = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-2024-0173"})
    assert_problem(duplicate, 409)


def test_a_clash_of_external_ids_names_only_a_recording_you_may_see(org: Org) -> None:
    _, therapist, bystander, case_id = setup_team(org)
    body = recording_body(case_id, external_id="ehr-rec-7")
    mine = therapist.api.post("/v1/recordings", json=body).json()
    own_case = bystander.api.post("/v1/cases", json={"therapist_id": bystander.id, "external_ref": "C-9"}).json()
    clash = assert_problem(
        bystander.api.post("/v1/recordings", json=recording_body(own_case["id"], external_id="ehr-rec-7")), 409
    )
    assert clash["errors"] == [{"field": "external_id", "message": "already used"}]
    assert mine["id"] not in str(clash)
