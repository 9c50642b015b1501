"""A batch names each item's case by id, or by the clinic's own reference (``case``: the therapist and the
client's ``external_ref``): found if it exists, created as ``POST /v1/cases`` would if not. A clinic system
then pushes a day with new clients in it in one call, without keeping our case ids."""

from __future__ import annotations

from typing import Any

from tests.recordings.test_api import setup_team
from tests.recordings.test_batch import BATCH, item, push
from tests.support import Org, Person
from tests.test_http import assert_problem


def by_ref(therapist: Person, ref: str, n: int, **changes: Any) -> dict[str, Any]:
    body = item("unused", n, **changes)
    del body["case_id"]
    return {**body, "case": {"therapist_id": therapist.id, "external_ref": ref}}


def every(who: Person, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 200, **params}
    while True:
        answer = who.api.get(url, params=query)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        if answer.json()["next_cursor"] is None:
            return items
        query["cursor"] = answer.json()["next_cursor"]


def cases(who: Person) -> dict[str, str]:
    return {c["external_ref"]: c["id"] for c in every(who, "/v1/cases")}


def audited(org: Org, action: str) -> int:
    return len(every(org.admin, "/v1/audit-events", action=action))


def test_a_case_named_by_reference_is_found_or_created_once(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)  # its case is C-2024-0173
    first = push(
        therapist,
        [by_ref(therapist, "C-2024-0173", 1), by_ref(therapist, "C-NEW", 2), by_ref(therapist, "C-NEW", 3)],
    )
    assert [r["status"] for r in first["items"]] == [201, 201, 201], first
    known = cases(therapist)
    assert set(known) == {"C-2024-0173", "C-NEW"} and known["C-2024-0173"] == case_id
    assert [r["recording"]["case_id"] for r in first["items"]] == [case_id, known["C-NEW"], known["C-NEW"]]
    assert audited(org, "case.create") == 2  # setup_team's case and C-NEW, once for its two sessions
    case = therapist.api.get(f"/v1/cases/{known['C-NEW']}").json()
    assert case["therapist_id"] == therapist.id and case["external_ref"] == "C-NEW"
    # Pushed again: the same recordings, no new case; by id or by reference, it is the same case.
    again = push(therapist, [by_ref(therapist, "C-NEW", 2), item(known["C-NEW"], 3), by_ref(therapist, "C-2", 4)])
    assert [r["result"] for r in again["items"]] == ["unchanged", "unchanged", "created"]
    assert set(cases(therapist)) == {"C-2024-0173", "C-NEW", "C-2"}
    assert audited(org, "case.create") == 3


def test_a_case_is_named_one_way_exactly(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    both = {**by_ref(therapist, "C-NEW", 1), "case_id": case_id}
    neither = item(case_id, 2)
    del neither["case_id"]
    results = push(therapist, [both, neither, by_ref(therapist, "has space", 3)])["items"]
    assert [r["status"] for r in results] == [400, 400, 400]
    assert [[e["field"] for e in r["problem"]["errors"]] for r in results] == [
        ["case_id", "case"],
        ["case_id"],
        ["case.external_ref"],
    ]
    assert set(cases(therapist)) == {"C-2024-0173"}


def test_a_case_that_cannot_be_made_fails_its_item_naming_the_field(org: Org, other_org: Org) -> None:
    supervisor, therapist, bystander, _ = setup_team(org)
    foreign = other_org.member("clinician")
    admin_only = org.member("admin")  # an admin without the clinician role has no cases
    results = push(
        org.admin,
        [
            by_ref(foreign, "C-1", 1),  # another organisation's member: no such member here
            by_ref(admin_only, "C-2", 2),
            by_ref(therapist, "C-3", 3),
        ],
    )["items"]
    assert [r["status"] for r in results] == [422, 422, 201]
    assert results[0]["problem"]["errors"] == [{"field": "case.therapist_id", "message": "no member with this id"}]
    assert [e["field"] for e in results[1]["problem"]["errors"]] == ["case.therapist_id"]
    # Who may: as for POST /v1/cases. A supervisor does not push for a supervisee; a bystander cannot even name
    # the therapist, whether or not the case exists.
    assert push(supervisor, [by_ref(therapist, "C-4", 4)])["items"][0]["status"] == 403
    for ref in ("C-2024-0173", "C-5"):
        refused = push(bystander, [by_ref(therapist, ref, 5)])["items"][0]
        assert refused["status"] == 422
        assert refused["problem"]["errors"] == [{"field": "case.therapist_id", "message": "no member with this id"}]
    assert set(cases(org.admin)) == {"C-2024-0173", "C-3"}


def test_an_item_that_fails_leaves_no_case_behind(org: Org) -> None:
    """The case is written in the item's savepoint: an item that fails after making it (its external_id was
    pushed before, for another case) takes the case with it, and the next item that names it makes it anew."""
    _, therapist, _, case_id = setup_team(org)
    push(therapist, [item(case_id, 1)])
    results = push(therapist, [by_ref(therapist, "C-NEW", 1), by_ref(therapist, "C-NEW", 2)])["items"]
    assert [r["status"] for r in results] == [409, 201]
    assert [e["field"] for e in results[0]["problem"]["errors"]] == ["external_id", "case"]
    assert results[1]["recording"]["case_id"] == cases(therapist)["C-NEW"]
    assert audited(org, "case.create") == 2


def test_a_clinic_day_with_new_clients_in_one_call(org: Org) -> None:
    """50 therapists, 6 sessions each, every client new: 300 items and 300 cases in one request, then the
    same batch again changes nothing."""
    therapists = [org.member("clinician") for _ in range(50)]
    items = [by_ref(t, f"C-{i}-{s}", i * 6 + s + 1) for i, t in enumerate(therapists) for s in range(6)]
    answer = push(org.admin, items)
    assert answer["created"] == 300 and answer["failed"] == 0
    assert len(cases(org.admin)) == 300 and audited(org, "case.create") == 300
    assert push(org.admin, items)["unchanged"] == 300
    assert len(cases(org.admin)) == 300 and audited(org, "case.create") == 300


def test_a_key_without_recordings_write_cannot_make_cases_through_a_batch(org: Org) -> None:
    _, therapist, _, _ = setup_team(org)
    reader = org.member("admin", scopes=["recordings:read"])
    assert_problem(reader.api.post(BATCH, json={"items": [by_ref(therapist, "C-NEW", 1)]}), 403)
    assert set(cases(org.admin)) == {"C-2024-0173"}


def test_a_deactivated_therapist_gets_no_new_case_but_keeps_their_old_ones(org: Org) -> None:
    """As by id: an existing case of a therapist who left is still used (their sessions may still arrive), but no
    new case is made for them; and a revoked key pushes nothing."""
    _, therapist, _, case_id = setup_team(org)
    current = org.admin.api.get(f"/v1/members/{therapist.id}")
    left = org.admin.api.patch(
        f"/v1/members/{therapist.id}", json={"active": False}, headers={"If-Match": current.headers["etag"]}
    )
    assert left.status_code == 200, left.text
    results = push(org.admin, [by_ref(therapist, "C-2024-0173", 1), by_ref(therapist, "C-NEW", 2)])["items"]
    assert [r["status"] for r in results] == [201, 422]
    assert results[0]["recording"]["case_id"] == case_id
    assert [e["field"] for e in results[1]["problem"]["errors"]] == ["case.therapist_id"]
    assert set(cases(org.admin)) == {"C-2024-0173"}
    integration = org.member("admin")
    (key,) = integration.api.get(f"/v1/members/{integration.id}/api-keys").json()["items"]
    assert org.admin.api.delete(f"/v1/api-keys/{key['id']}").status_code == 204
    assert_problem(integration.api.post(BATCH, json={"items": [by_ref(therapist, "C-2024-0173", 3)]}), 401)
    assert set(cases(org.admin)) == {"C-2024-0173"}
