"""ETags on every answer that carries a versioned resource, If-Match that is never an undocumented 428, and
conditional GET (304) for single resources and aggregate views."""

from __future__ import annotations

from supervise.cli import openapi_document
from tests.recordings.test_api import recording_body
from tests.reviews.support import RUBRIC, complete, full, make_team, save
from tests.support import Org
from tests.test_http import assert_problem


def test_made_and_moved_resources_carry_their_etag(org: Org) -> None:
    team = make_team(org)
    made = team.supervisor.api.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": RUBRIC})
    assert (made.status_code, made.headers["etag"]) == (201, '"1"')
    url = f"/v1/reviews/{made.json()['id']}"
    assert save(team.supervisor, made.json(), responses=full(4)).status_code == 200
    submitted = team.supervisor.api.post(f"{url}/submit")
    assert submitted.status_code == 200
    assert (
        submitted.headers["etag"] == team.supervisor.api.get(url).headers["etag"] == f'"{submitted.json()["version"]}"'
    )
    recording = team.therapist.api.post(
        "/v1/recordings", json=recording_body(team.case_id, session_number=8), headers={"Idempotency-Key": "r-8"}
    )
    assert (recording.status_code, recording.headers["etag"]) == (201, '"1"')
    replayed = team.therapist.api.post(
        "/v1/recordings", json=recording_body(team.case_id, session_number=8), headers={"Idempotency-Key": "r-8"}
    )
    assert replayed.headers["idempotent-replayed"] == "true" and replayed.headers["etag"] == '"1"'
    request = team.assign(team.supervisor, team.peer, "peer")
    assert (request.status_code, request.headers["etag"]) == (201, '"1"')


def test_an_empty_if_match_is_a_400_or_no_precondition_never_an_undocumented_428(org: Org) -> None:
    team = make_team(org)
    draft = team.direct(team.supervisor)
    url = f"/v1/reviews/{draft['id']}"
    # empty: the document's minLength, a 400 naming it
    for answer in (
        team.supervisor.api.patch(url, json={"comment": "c"}, headers={"If-Match": ""}),
        team.supervisor.api.post(f"{url}/submit", headers={"If-Match": ""}),
    ):
        assert [e["field"] for e in assert_problem(answer, 400)["errors"]] == ["If-Match"]
    # blank: as absent, so required on PATCH (428, documented there) and no precondition on submit
    assert_problem(team.supervisor.api.patch(url, json={"comment": "c"}, headers={"If-Match": " "}), 428)
    # not an entity tag: it matches no version, so the precondition fails
    for value in ("3", " , "):
        assert_problem(team.supervisor.api.post(f"{url}/submit", headers={"If-Match": value}), 412)
    assert save(team.supervisor, draft, responses=full(4)).status_code == 200
    assert team.supervisor.api.post(f"{url}/submit", headers={"If-Match": " "}).status_code == 200


def test_if_match_is_required_wherever_its_absence_is_a_428() -> None:
    for item in openapi_document()["paths"].values():
        for method, op in item.items():
            if_match = [p for p in op.get("parameters", []) if p["name"] == "If-Match"] if isinstance(op, dict) else []
            if method == "patch":
                assert if_match and if_match[0]["required"] is True and "428" in op["responses"], op["operationId"]
            elif if_match:  # optional: leaving it out is not a 428
                assert if_match[0]["required"] is False and "428" not in op["responses"], op["operationId"]


def test_a_single_resource_answers_if_none_match_with_304(org: Org) -> None:
    team = make_team(org)
    draft = team.direct(team.supervisor)
    url = f"/v1/reviews/{draft['id']}"
    first = team.supervisor.api.get(url)
    assert first.headers["cache-control"] == "private, no-cache"
    same = team.supervisor.api.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", first.headers["etag"])
    assert same.headers["cache-control"] == "private, no-cache" and "x-request-id" in same.headers
    weak = team.supervisor.api.get(url, headers={"If-None-Match": f'"0", W/{first.headers["etag"]}'})
    assert weak.status_code == 304
    assert save(team.supervisor, draft, comment="changed").status_code == 200
    changed = team.supervisor.api.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["comment"] == "changed"
    # another caller asking with the tag learns nothing of a resource they may not see
    assert_problem(team.peer.api.get(url, headers={"If-None-Match": first.headers["etag"]}), 404)


def test_an_aggregate_view_answers_if_none_match_with_304_until_it_changes(org: Org) -> None:
    team = make_team(org)
    complete(team.supervisor, team.direct(team.supervisor), value=4)
    url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    first = team.supervisor.api.get(url, params={"rubric": RUBRIC})
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    tag = first.headers["etag"]
    same = team.supervisor.api.get(url, params={"rubric": RUBRIC}, headers={"If-None-Match": tag})
    assert (same.status_code, same.content) == (304, b"")
    # a new figure: the same question gets the new answer and a new tag
    recording = team.therapist.api.post("/v1/recordings", json=recording_body(team.case_id, session_number=9))
    made = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording.json()["id"], "rubric_key": RUBRIC})
    complete(team.supervisor, made.json(), value=2)
    after = team.supervisor.api.get(url, params={"rubric": RUBRIC}, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag and after.content != first.content


def test_answers_without_a_validator_are_not_stored(org: Org) -> None:
    listed = org.admin.api.get("/v1/members")
    assert "etag" not in listed.headers and listed.headers["cache-control"] == "no-store"
    assert org.admin.api.get("/v1/nowhere").headers["cache-control"] == "no-store"


def test_the_document_declares_conditional_get_where_answers_carry_an_etag() -> None:
    for path, item in openapi_document()["paths"].items():
        op = item.get("get")
        if op is None or "ETag" not in op["responses"]["200"].get("headers", {}):
            continue
        assert "If-None-Match" in {p["name"] for p in op.get("parameters", [])}, path
        assert "content" not in op["responses"]["304"] and "ETag" in op["responses"]["304"]["headers"], path
    assert "304" in openapi_document()["paths"]["/v1/aggregates/therapists/{therapist_id}/series"]["get"]["responses"]
