"""``updated_since`` on the lists a clinic system syncs (issue 13): only what changed at or after the time,
oldest change first, in pages whose cursor holds its place in that order; and the write deadline the README's
overlap rests on (a write older than it at commit is rolled back, 503 ``write-too-slow``).

What a poller must add to never miss a change that commits late is tested with a real server and concurrent
writers in ``tests/test_sync_races.py``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from supervise import db
from tests.recordings.test_api import recording_body
from tests.reviews.support import complete, make_team, save
from tests.support import Api, Org
from tests.test_http import assert_problem


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def changed(api: Api, path: str, since: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of ``path`` changed since ``since``, walked one page of one item at a time."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"updated_since": since, "limit": 1, **params}
    while True:
        answer = api.get(path, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        assert body["has_more"] is (body["next_cursor"] is not None)
        if body["next_cursor"] is None:
            return items
        query["cursor"] = body["next_cursor"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def rename(api: Api, member_id: str, name: str) -> dict[str, Any]:
    current = api.get(f"/v1/members/{member_id}")
    renamed = api.patch(f"/v1/members/{member_id}", json={"name": name}, headers={"If-Match": current.headers["etag"]})
    assert renamed.status_code == 200, renamed.text
    return dict(renamed.json())


def test_members_changed_since_come_oldest_change_first(org: Org) -> None:
    first, second, third = (org.member("clinician", name=f"M{n}") for n in range(3))
    mark = now()
    assert changed(org.admin.api, "/v1/members", mark) == []
    rename(org.admin.api, third.id, "Third")
    rename(org.admin.api, first.id, "First")
    since = changed(org.admin.api, "/v1/members", mark)
    assert ids(since) == [third.id, first.id]  # by change, not by creation
    assert [item["name"] for item in since] == ["Third", "First"]
    assert all(item["updated_at"] >= mark.replace("+00:00", "Z") for item in since)
    assert second.id not in ids(since)
    everyone = org.admin.api.get("/v1/members", params={"limit": 200}).json()["items"]
    assert ids(everyone)[-3:] == [first.id, second.id, third.id]  # without it, the list is by creation as before
    assert ids(changed(org.admin.api, "/v1/members", mark, role="clinician")) == [third.id, first.id]
    assert changed(org.admin.api, "/v1/members", mark, role="admin") == []  # the other filters still hold


def test_a_member_changed_during_a_walk_comes_again_further_on(org: Org) -> None:
    mark = now()
    members = [org.member("clinician", name=f"M{n}") for n in range(3)]
    query: dict[str, Any] = {"updated_since": mark, "limit": 1}
    page = org.admin.api.get("/v1/members", params=query).json()
    assert ids(page["items"]) == [members[0].id]
    rename(org.admin.api, members[0].id, "Renamed meanwhile")
    walked = page["items"] + changed(org.admin.api, "/v1/members", mark, cursor=page["next_cursor"])
    assert ids(walked) == [members[0].id, members[1].id, members[2].id, members[0].id]
    assert walked[-1]["name"] == "Renamed meanwhile"


def test_recordings_cases_requests_and_reviews_changed_since(org: Org) -> None:
    team = make_team(org)
    therapist, supervisor = team.therapist.api, team.supervisor.api
    mark = now()
    assert changed(therapist, "/v1/cases", mark) == []
    case = therapist.post("/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": "C-SYNC"}).json()
    assert ids(changed(therapist, "/v1/cases", mark)) == [case["id"]]  # a case never changes: created since

    later = therapist.post("/v1/recordings", json=recording_body(case["id"], session_number=9)).json()
    recording = team.recording
    current = therapist.get(f"/v1/recordings/{recording['id']}")
    patched = therapist.patch(
        f"/v1/recordings/{recording['id']}",
        json={"consent_scope": "supervision_and_training"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert ids(changed(therapist, "/v1/recordings", mark)) == [later["id"], recording["id"]]

    request = team.request(team.supervisor, team.peer, "peer")
    assert ids(changed(supervisor, "/v1/review-requests", mark)) == [request["id"]]
    peer_review = team.start(team.peer, request)
    own = supervisor.post("/v1/reviews", json={"recording_id": recording["id"], "rubric_key": "alliance"}).json()
    assert ids(changed(org.admin.api, "/v1/reviews", mark)) == [peer_review["id"], own["id"]]
    save(team.peer, peer_review, responses={})
    assert ids(changed(org.admin.api, "/v1/reviews", mark)) == [own["id"], peer_review["id"]]
    middle = now()
    complete(team.peer, peer_review)  # submitting changes the review and fulfils its request
    assert ids(changed(org.admin.api, "/v1/reviews", middle)) == [peer_review["id"]]
    fulfilled = changed(supervisor, "/v1/review-requests", middle)
    assert ids(fulfilled) == [request["id"]] and fulfilled[0]["state"] != "open"
    # Blind review: while the supervisor's own first review is a draft, the peer's is not theirs to see. Once
    # theirs is submitted, the peer's becomes visible without changing, so it is no change to them (the README
    # says so: an integration syncs with a key that sees everything, or walks the whole list now and then).
    assert changed(supervisor, "/v1/reviews", middle) == []
    last = now()
    complete(team.supervisor, own)
    assert ids(changed(supervisor, "/v1/reviews", middle)) == [peer_review["id"], own["id"]]
    assert ids(changed(supervisor, "/v1/reviews", last)) == [own["id"]]
    assert peer_review["id"] in ids(supervisor.get("/v1/reviews", params={"limit": 200}).json()["items"])


def test_a_cursor_keeps_to_its_time(org: Org) -> None:
    for n in range(3):
        org.member("clinician", name=f"M{n}")
    first = org.admin.api.get("/v1/members", params={"updated_since": "2020-01-01T00:00:00Z", "limit": 1}).json()
    elsewhere = {"updated_since": "2021-01-01T00:00:00Z", "limit": 1, "cursor": first["next_cursor"]}
    problem = assert_problem(org.admin.api.get("/v1/members", params=elsewhere), 400)
    assert problem["errors"][0]["field"] == "cursor"
    unbounded = {"limit": 1, "cursor": first["next_cursor"]}  # nor is a sync cursor one of the list by creation
    assert assert_problem(org.admin.api.get("/v1/members", params=unbounded), 400)["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("path", ["/v1/cases", "/v1/recordings", "/v1/review-requests", "/v1/reviews", "/v1/members"])
def test_a_time_that_is_not_one_names_updated_since(org: Org, path: str) -> None:
    for value, status in (("yesterday", 400), ("2026-13-01T00:00:00Z", 422), ("2026-12-01T00:00:00", 400)):
        problem = assert_problem(org.admin.api.get(path, params={"updated_since": value}), status)
        assert [error["field"] for error in problem["errors"]] == ["updated_since"], (value, problem)


def test_a_write_past_the_deadline_is_rolled_back(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    member = org.member("clinician", name="Before")
    etag = org.admin.api.get(f"/v1/members/{member.id}").headers["etag"]
    monkeypatch.setattr(db, "WRITE_DEADLINE_SECONDS", -1.0)  # every write is past it
    refused = org.admin.api.patch(f"/v1/members/{member.id}", json={"name": "After"}, headers={"If-Match": etag})
    problem = assert_problem(refused, 503)
    assert problem["type"].endswith("/write-too-slow") and refused.headers["retry-after"] == "1"
    assert org.admin.api.get("/v1/members", params={"limit": 1}).status_code == 200  # a read is not a write
    monkeypatch.setattr(db, "WRITE_DEADLINE_SECONDS", 30.0)
    kept = org.admin.api.get(f"/v1/members/{member.id}")
    assert kept.json()["name"] == "Before" and kept.headers["etag"] == etag  # nothing was changed
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": member.id, "action": "member.update"})
    assert events.json()["items"] == []
