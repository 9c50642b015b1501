"""Supervision links: admins make and remove them; members see the links they are part of."""

from __future__ import annotations

from tests.support import Org
from tests.test_http import assert_problem


def test_link_lifecycle_and_visibility(org: Org) -> None:
    supervisor = org.member("supervisor")
    supervisee = org.member("clinician")
    bystander = org.member("clinician")
    made = org.admin.api.post(
        "/v1/supervision-links", json={"supervisor_id": supervisor.id, "supervisee_id": supervisee.id}
    )
    assert made.status_code == 201
    link = made.json()
    assert made.headers["location"] == f"/v1/supervision-links/{link['id']}"
    for who in (org.admin, supervisor, supervisee):
        assert [item["id"] for item in who.api.get("/v1/supervision-links").json()["items"]] == [link["id"]]
    assert bystander.api.get("/v1/supervision-links").json()["items"] == []
    by_supervisor = org.admin.api.get("/v1/supervision-links", params={"supervisor_id": supervisor.id})
    assert [item["id"] for item in by_supervisor.json()["items"]] == [link["id"]]

    # parties see it but may not remove it; others do not see it at all
    assert_problem(supervisor.api.delete(f"/v1/supervision-links/{link['id']}"), 403)
    # only admins remove links: anyone else is refused before the link is looked up, so learns nothing of it
    assert_problem(bystander.api.delete(f"/v1/supervision-links/{link['id']}"), 403)
    assert org.admin.api.delete(f"/v1/supervision-links/{link['id']}").status_code == 204
    assert org.admin.api.get("/v1/supervision-links").json()["items"] == []
    assert_problem(org.admin.api.delete(f"/v1/supervision-links/{link['id']}"), 404)


def test_invalid_links_name_the_field(org: Org) -> None:
    clinician = org.member("clinician")
    supervisor = org.member("supervisor")
    cases = [
        ({"supervisor_id": clinician.id, "supervisee_id": supervisor.id}, "supervisor_id"),
        ({"supervisor_id": supervisor.id, "supervisee_id": supervisor.id}, "supervisee_id"),
        ({"supervisor_id": supervisor.id, "supervisee_id": "0190c0de-0000-7000-8000-000000000000"}, "supervisee_id"),
    ]
    for body, field in cases:
        problem = assert_problem(org.admin.api.post("/v1/supervision-links", json=body), 422)
        assert field in [e["field"] for e in problem["errors"]]
    body = {"supervisor_id": supervisor.id, "supervisee_id": clinician.id}
    assert org.admin.api.post("/v1/supervision-links", json=body).status_code == 201
    assert_problem(org.admin.api.post("/v1/supervision-links", json=body), 409)
    assert_problem(supervisor.api.post("/v1/supervision-links", json=body), 403)


def test_member_of_another_organisation_cannot_be_linked(org: Org, other_org: Org) -> None:
    supervisor = org.member("supervisor")
    foreign = other_org.member("clinician")
    body = {"supervisor_id": supervisor.id, "supervisee_id": foreign.id}
    problem = assert_problem(org.admin.api.post("/v1/supervision-links", json=body), 422)
    assert problem["errors"] == [{"field": "supervisee_id", "message": "no member with this id"}]
