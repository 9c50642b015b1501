"""The HTTP conventions every endpoint shares (supervise/http.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import text

from supervise.cli import openapi_document
from supervise.http import PROBLEM_JSON
from supervise.recordings import service
from tests.support import Api, Org


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


def test_unknown_route_is_a_problem_with_request_id(anonymous: Api) -> None:
    response = anonymous.get("/v1/nothing-here")
    assert_problem(response, 404)
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"


def test_wrong_method_is_405_with_allow(org: Org) -> None:
    response = org.admin.api.request("PUT", "/v1/members")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]


def test_options_and_405_list_every_routed_method(org: Org) -> None:
    """Before: Litestar 2 answered OPTIONS with the methods of the first handler registered for the path
    (``OPTIONS /v1/members`` said ``OPTIONS, POST``; found by schemathesis against a live server)."""
    review = "/v1/reviews/01a24b97-aa67-7162-967f-f4e2337dcceb"
    for path, methods in (
        ("/v1/members", "GET, OPTIONS, POST"),
        (review, "DELETE, GET, OPTIONS, PATCH"),
        (f"{review}/reference", "DELETE, OPTIONS, POST"),
        ("/v1/me", "GET, OPTIONS"),
    ):
        options = org.admin.api.request("OPTIONS", path)
        assert options.status_code == 204, path
        assert options.headers["allow"] == methods, path
        refused = org.admin.api.request("PUT", path)
        assert_problem(refused, 405)
        assert set(refused.headers["allow"].split(", ")) == set(methods.split(", ")), path


def test_request_id_is_echoed_when_valid_and_replaced_when_not(anonymous: Api) -> None:
    echoed = anonymous.get("/healthz", headers={"X-Request-ID": "clinic-sync.42"})
    assert echoed.headers["x-request-id"] == "clinic-sync.42"
    replaced = anonymous.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert replaced.headers["x-request-id"] != "bad id with spaces"
    assert len(replaced.headers["x-request-id"]) == 32


def test_oversized_body_is_413(org: Org) -> None:
    response = org.admin.api.post("/v1/members", json={"name": "x" * 1_100_000, "email": "a@b.example"})
    body = assert_problem(response, 413)
    assert "1048576" in body["detail"]


def test_unknown_field_is_named(org: Org) -> None:
    response = org.admin.api.post("/v1/members", json={"name": "A", "email": "a@b.example", "colour": "red"})
    body = assert_problem(response, 400)
    assert body["errors"] == [{"field": "colour", "message": "Object contains unknown field `colour`"}]


def test_wrong_type_and_missing_field_are_named(org: Org) -> None:
    wrong = assert_problem(org.admin.api.post("/v1/members", json={"name": 5, "email": "a@b.example"}), 400)
    assert [e["field"] for e in wrong["errors"]] == ["name"]
    missing = assert_problem(org.admin.api.post("/v1/members", json={"email": "a@b.example"}), 400)
    assert [e["field"] for e in missing["errors"]] == ["name"]


def test_malformed_json_is_400(org: Org) -> None:
    response = org.admin.api.post("/v1/members", content=b'{"name": ', headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_out_of_range_query_parameter_is_named(org: Org) -> None:
    body = assert_problem(org.admin.api.get("/v1/members", params={"limit": 0}), 400)
    assert [e["field"] for e in body["errors"]] == ["limit"]
    body = assert_problem(org.admin.api.get("/v1/members", params={"limit": "many"}), 400)
    assert [e["field"] for e in body["errors"]] == ["limit"]


def test_malformed_id_in_path_is_a_4xx_problem(org: Org) -> None:
    response = org.admin.api.get("/v1/members/not-a-uuid")
    assert response.status_code in (400, 404)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_cursor_pages_through_every_item_once(org: Org) -> None:
    for _ in range(4):
        org.member("clinician")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = org.admin.api.get("/v1/members", params=params).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    # a page that happens to end the list says so: no further request needed
    last = org.admin.api.get("/v1/members", params={"limit": 5}).json()
    assert (len(last["items"]), last["has_more"], last["next_cursor"]) == (5, False, None)


def test_every_list_says_whether_more_exists() -> None:
    schemas = openapi_document()["components"]["schemas"]
    pages = {name: s for name, s in schemas.items() if "next_cursor" in s.get("properties", {})}
    assert len(pages) >= 10
    for name, schema in pages.items():
        assert schema["properties"]["has_more"]["type"] == "boolean", name
        assert {"items", "next_cursor", "has_more"} <= set(schema["required"]), name


def test_tampered_or_foreign_cursor_is_400(org: Org, other_org: Org) -> None:
    for _ in range(2):
        org.member("clinician")
    cursor = org.admin.api.get("/v1/members", params={"limit": 1}).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[5] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, "garbage!", cursor[:-3]):
        body = assert_problem(org.admin.api.get("/v1/members", params={"cursor": bad}), 400)
        assert body["errors"][0]["field"] == "cursor"
    # bound to the organisation and to the filters it was made with
    assert_problem(other_org.admin.api.get("/v1/members", params={"cursor": cursor}), 400)
    assert_problem(org.admin.api.get("/v1/members", params={"cursor": cursor, "role": "admin"}), 400)


def test_pagination_is_stable_while_others_insert(org: Org) -> None:
    """Newest-first paging while every request inserts a newer item: offsets would repeat items, keys don't."""
    for _ in range(3):
        org.member("clinician")
    before = {e["id"] for e in org.admin.api.get("/v1/audit-events", params={"limit": 200}).json()["items"]}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = org.admin.api.get("/v1/audit-events", params=params).json()  # each call audits itself
        seen += [e["id"] for e in page["items"]]
        org.member("clinician")  # and more inserted between pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert all(seen.count(event_id) == 1 for event_id in before)
    assert len(seen) == len(set(seen))


def test_unknown_or_repeated_query_parameters_are_named(org: Org) -> None:
    body = assert_problem(org.admin.api.get("/v1/members", params={"rol": "admin"}), 400)
    assert body["errors"] == [{"field": "rol", "message": "unknown query parameter"}]
    body = assert_problem(org.admin.api.get("/v1/members?active=true&active=false"), 400)
    assert body["errors"] == [{"field": "active", "message": "given more than once"}]


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialisation_failure_is_a_503_that_changed_nothing(
    org: Org, monkeypatch: pytest.MonkeyPatch, sqlstate: str
) -> None:
    """PostgreSQL breaks a deadlock (or a serialisation failure) by rolling one transaction back: that request
    is answered 503 with Retry-After (a retry is safe), not 500, and what it wrote before is gone. The error
    is PostgreSQL's own, raised through the driver, after the case's row was written."""
    therapist = org.member("clinician")
    new_case = service.new_case

    async def rolled_back(tx: Any, principal: Any, data: Any) -> Any:
        case = await new_case(tx, principal, data)
        await tx.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'broken tie' USING ERRCODE = '{sqlstate}'; END $$"))
        return case

    monkeypatch.setattr(service, "new_case", rolled_back)
    answer = therapist.api.post("/v1/cases", json={"therapist_id": therapist.id, "external_ref": "C-1"})
    problem = assert_problem(answer, 503)
    assert problem["type"].endswith("/service-unavailable") and answer.headers["retry-after"] == "1"
    monkeypatch.undo()
    assert therapist.api.get("/v1/cases").json()["items"] == []
