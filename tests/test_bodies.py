"""Hostile bodies and instants (issue 15): each is a 4xx problem naming what is wrong, never a 500, never a
row written, and nothing logged as an error."""

from __future__ import annotations

import json
import logging

import pytest

from tests.recordings.test_api import recording_body, setup_team
from tests.support import Org
from tests.test_http import assert_problem

MEMBER = {"name": "Robin", "email": "robin@clinic.example", "roles": ["clinician"]}


def member_count(org: Org) -> int:
    return len(org.admin.api.get("/v1/members", params={"limit": 100}).json()["items"])


def post_raw(org: Org, body: bytes, content_type: str | None = "application/json"):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": content_type} if content_type else {}
    return org.admin.api.post("/v1/members", content=body, headers=headers)


@pytest.fixture
def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.WARNING)
    return caplog.records


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            {"field": "name", "message": "Expected `str`, got `array`"},
        ),
        (b"[" * 100_000 + b"]" * 100_000, {"field": "body", "message": "Expected `object`, got `array`"}),
        (b'{"name": "Rob\xffin", "email": "robin@clinic.example"}', {"field": "body", "message": "not UTF-8"}),
    ],
    ids=["nested-field", "nested-body", "utf-8"],
)
def test_undecodable_body_is_400_without_a_traceback(
    org: Org, errors_logged: list[logging.LogRecord], body: bytes, error: dict[str, str]
) -> None:
    """Before: RecursionError and UnicodeDecodeError, each a 500 with a traceback logged."""
    before = member_count(org)
    problem = assert_problem(post_raw(org, body), 400)
    assert problem["errors"] == [error]
    assert member_count(org) == before
    assert [r for r in errors_logged if r.name.startswith(("supervise", "litestar"))] == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415_and_not_parsed(org: Org, content_type: str | None) -> None:
    before = member_count(org)
    response = post_raw(org, json.dumps(MEMBER).encode(), content_type)
    assert_problem(response, 415)
    assert member_count(org) == before


def test_json_media_types_are_accepted(org: Org) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = {**MEMBER, "email": f"{content_type[12:17]}@clinic.example"}
        assert post_raw(org, json.dumps(body).encode(), content_type).status_code == 201


def test_a_repeated_key_is_refused_not_the_last_one_taken(org: Org) -> None:
    body = b'{"name": "Robin", "email": "robin@clinic.example", "roles": ["clinician"], "roles": ["admin"]}'
    problem = assert_problem(post_raw(org, body), 400)
    assert problem["errors"] == [{"field": "roles", "message": "given more than once"}]
    members = org.admin.api.get("/v1/members", params={"limit": 100}).json()["items"]
    assert [m for m in members if m["name"] == "Robin"] == []
    same = b'{"name": "Robin", "name": "Robin", "email": "r@clinic.example"}'
    assert assert_problem(post_raw(org, same), 400)["errors"] == [{"field": "name", "message": "given more than once"}]


def test_a_number_sent_as_a_string_is_refused(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    problem = assert_problem(
        therapist.api.post("/v1/recordings", json=recording_body(case_id, session_number="3")), 400
    )
    assert [e["field"] for e in problem["errors"]] == ["session_number"]
    assert therapist.api.get("/v1/recordings").json()["items"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": "0001-01-01T01:00:00+05:00"}, "occurred_at"),
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at"),
        ({"occurred_at": "1899-12-31T23:59:59Z"}, "occurred_at"),
        ({"consent": {"scope": "supervision", "expires_at": "9999-12-31T23:00:00-05:00"}}, "consent.expires_at"),
    ],
)
def test_an_instant_out_of_range_is_400_naming_the_field(org: Org, changes: dict[str, object], field: str) -> None:
    _, therapist, _, case_id = setup_team(org)
    response = therapist.api.post("/v1/recordings", json=recording_body(case_id, **changes))
    problem = assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["errors"][0]["message"] == "must be written with a year from 1900 to 2199"
    assert therapist.api.get("/v1/recordings").json()["items"] == []


def test_instants_at_the_edges_of_the_range(org: Org) -> None:
    """The rule is the year as written, whatever the offset: no accepted instant is near the calendar's ends."""
    _, therapist, _, case_id = setup_team(org)
    for number, (occurred_at, expires_at) in enumerate(
        [("1900-01-01T00:30:00+01:00", "2199-12-31T23:00:00-05:00"), ("1900-01-01T00:00:00Z", None)], start=1
    ):
        consent = {"scope": "supervision", "expires_at": expires_at}
        body = recording_body(case_id, session_number=number, occurred_at=occurred_at, consent=consent)
        made = therapist.api.post("/v1/recordings", json=body)
        assert made.status_code == 201, made.text
    assert made.json()["occurred_at"] == "1900-01-01T00:00:00Z"


def test_a_consent_expiry_out_of_range_is_400_and_changes_nothing(org: Org) -> None:
    _, therapist, _, case_id = setup_team(org)
    made = therapist.api.post("/v1/recordings", json=recording_body(case_id)).json()
    response = therapist.api.patch(
        f"/v1/recordings/{made['id']}",
        json={"consent_expires_at": "9999-12-31T23:00:00-05:00"},
        headers={"If-Match": f'"{made["version"]}"'},
    )
    problem = assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == ["consent_expires_at"]
    assert therapist.api.get(f"/v1/recordings/{made['id']}").json() == made


@pytest.mark.parametrize("name", ["occurred_from", "occurred_to", "updated_since"])
def test_a_query_instant_out_of_range_is_400_naming_it(org: Org, name: str) -> None:
    response = org.admin.api.get("/v1/recordings", params={name: "9999-12-31T23:00:00-05:00"})
    problem = assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == [name]
