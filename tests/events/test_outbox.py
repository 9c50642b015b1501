"""The outbox: every change a clinic system cares about appends exactly one event per thing that happened, in
the change's transaction; a failed request appends none; payloads are ids; the catalogue's schemas describe
what the feed really serves; and an organisation never sees another's events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import jsonschema_rs
import pytest

from supervise.config import Settings
from supervise.db import Database
from supervise.events import repository, service
from supervise.events.schemas import EVENT_TYPES, RecordingCreated
from tests.client_ratings.test_client_ratings import ehr, srs
from tests.recordings.test_api import recording_body
from tests.reviews.support import complete, make_team
from tests.support import Org, Person
from tests.test_http import assert_problem

COMMENT = "Warm, and a rupture well repaired: confidential words."
ANSWER = "Thank you; I will ask earlier next time (confidential too)."
MEDIA_URI = "s3://clinic/rec/events-only.mp4"


def feed(who: Person, after: str | None = None, limit: int = 200) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after"] = after
    answer = who.api.get("/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


class Reader:
    """A clinic system following the feed: what arrived since it last looked."""

    def __init__(self, who: Person) -> None:
        self.who, self.cursor, self.seen = who, None, []  # type: ignore[var-annotated]

    def new(self) -> list[dict[str, Any]]:
        page = feed(self.who, self.cursor)
        self.cursor = page["next_cursor"]
        self.seen += page["items"]
        return list(page["items"])

    def types(self) -> Counter[str]:
        return Counter(event["type"] for event in self.new())


def test_every_change_appends_its_event_and_nothing_else_does(org: Org) -> None:
    reader = Reader(org.admin)
    team = make_team(org, media={"uri": MEDIA_URI, "sha256": "a" * 64}, external_id="ehr-rec-events")
    created = reader.new()
    assert [e["type"] for e in created] == ["recording.created"]
    assert created[0]["data"] == {
        "recording_id": team.recording_id,
        "case_id": team.case_id,
        "therapist_id": team.therapist.id,
    }
    assert created[0]["organisation_id"] == org.id

    # re-pushing the same external_id changes nothing: no event
    again = team.therapist.api.post(
        "/v1/recordings",
        json=recording_body(team.case_id, media={"uri": MEDIA_URI, "sha256": "a" * 64}, external_id="ehr-rec-events"),
    )
    assert again.status_code == 200, again.text
    assert reader.new() == []

    url = f"/v1/recordings/{team.recording_id}"
    etag = team.therapist.api.get(url).headers["etag"]
    changed = team.therapist.api.patch(
        url, json={"consent_expires_at": "2031-01-01T00:00:00Z"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    consent = reader.new()
    assert [e["type"] for e in consent] == ["recording.consent_changed"]
    assert consent[0]["data"]["consent_active"] is True and consent[0]["data"]["withdrawn"] is False
    # a stale ETag fails: no event
    assert_problem(
        team.therapist.api.patch(url, json={"consent_expires_at": "2032-01-01T00:00:00Z"}, headers={"If-Match": etag}),
        412,
    )
    assert reader.new() == []

    request = team.request(team.supervisor, team.peer, "peer")
    requested = reader.new()
    assert [e["type"] for e in requested] == ["review.requested"]
    assert requested[0]["data"] == {
        "review_request_id": request["id"],
        "recording_id": team.recording_id,
        "therapist_id": team.therapist.id,
        "reviewer_id": team.peer.id,
        "role": "peer",
        "rubric": {"key": "alliance", "version": "1.1"},
    }
    # the same assignment again is a 409: no event
    assert_problem(team.assign(team.supervisor, team.peer, "peer"), 409)
    assert reader.new() == []

    review = team.start(team.peer, request)
    assert reader.new() == []  # a draft is nobody's business but its author's
    # an incomplete draft cannot be submitted: no event
    assert_problem(team.peer.api.post(f"/v1/reviews/{review['id']}/submit"), 422)
    assert reader.new() == []
    team.peer.api.patch(
        f"/v1/reviews/{review['id']}", json={"comment": COMMENT}, headers={"If-Match": f'"{review["version"]}"'}
    )
    submitted = complete(team.peer, review, 5, trust=2)
    assert submitted["result"]["flags"], "the alliance rubric flags a strained item"
    types = reader.types()
    assert types == Counter({"review.submitted": 1, "flag.raised": len(submitted["result"]["flags"])})
    flag = next(e for e in reader.seen if e["type"] == "flag.raised")
    assert flag["data"]["review_id"] == review["id"]
    assert flag["data"]["code"] == submitted["result"]["flags"][0]["code"]

    acknowledged = team.therapist.api.post(
        f"/v1/reviews/{review['id']}/acknowledge", json={"usefulness": 4, "response": ANSWER}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert reader.types() == Counter({"review.acknowledged": 1})
    # acknowledging again is a 409: no event
    assert_problem(team.therapist.api.post(f"/v1/reviews/{review['id']}/acknowledge", json={"usefulness": 4}), 409)
    assert reader.new() == []

    amendment = team.peer.api.post(f"/v1/reviews/{review['id']}/amend", json={"reason": "Trust was higher."})
    assert amendment.status_code == 201, amendment.text
    assert reader.new() == []  # an amendment is a draft until it is submitted
    amended = complete(team.peer, amendment.json(), 6)
    arrived = reader.new()
    assert [e["type"] for e in arrived] == ["review.amended"]  # no flag this time
    assert arrived[0]["data"]["review_id"] == amended["id"]
    assert arrived[0]["data"]["replaces_id"] == review["id"]
    assert arrived[0]["data"]["revision"] == 2

    system = ehr(org)
    pushed = system.api.post("/v1/client-ratings", json=srs(team.recording_id, (8.0, 8.5, 9.0, 8.8), "2026-11-02"))
    assert pushed.status_code == 201, pushed.text
    rated = reader.types()
    assert rated == Counter({"client_rating.submitted": 1, "flag.raised": len(pushed.json()["result"]["flags"])})
    rating = next(e for e in reader.seen if e["type"] == "client_rating.submitted")
    assert rating["data"]["source"] == "integration"
    assert rating["data"]["rubric"] == {"key": "srs", "version": "1.0"}
    # a second rating of the session with the same rubric is a 409: no event
    assert_problem(system.api.post("/v1/client-ratings", json=srs(team.recording_id, (9, 9, 9, 9), "2026-11-02")), 409)
    assert reader.new() == []

    # through a one-time link
    link = team.therapist.api.post("/v1/client-forms", json={"recording_id": team.recording_id, "rubric_key": "wai-sr"})
    assert link.status_code == 201, link.text
    answers = {"items": {f"item_{i:02d}": 4 for i in range(1, 13)}}
    assert team.org.client.post(f"/v1/forms/{link.json()['token']}", json={"responses": answers}).status_code == 200
    by_link = [e for e in reader.new() if e["type"] == "client_rating.submitted"]
    assert [e["data"]["source"] for e in by_link] == ["link"]

    # what arrived is numbered 1, 2, ... in order, once each
    seqs = [e["seq"] for e in reader.seen]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len({e["id"] for e in reader.seen}) == len(seqs)
    assert_thin(reader.seen, [COMMENT, ANSWER, MEDIA_URI, "Trust was higher.", "C-2024-0173"])


def assert_thin(events: list[dict[str, Any]], secrets: list[str]) -> None:
    """Payloads hold ids, the rubric version and enumerated facts: no responses, comments or URIs."""
    text = json.dumps(events)
    for secret in secrets:
        assert secret not in text
    allowed = {"rubric", "role", "source", "code", "severity", "consent_active", "withdrawn", "revision"}
    for event in events:
        for name, value in event["data"].items():
            if name.endswith("_id"):
                uuid.UUID(value)
            else:
                assert name in allowed, (event["type"], name)
                assert not isinstance(value, str) or len(value) <= 64


def test_the_catalogue_describes_every_type_and_validates_what_the_feed_serves(org: Org) -> None:
    catalogue = org.admin.api.get("/v1/event-types")
    assert catalogue.status_code == 200, catalogue.text
    types = {item["type"]: item for item in catalogue.json()["items"]}
    assert list(types) == list(EVENT_TYPES)
    assert all(name == payload.TYPE for name, (payload, _) in EVENT_TYPES.items())
    validators = {name: jsonschema_rs.Draft202012Validator(item["schema"]) for name, item in types.items()}
    for name, item in types.items():
        assert item["description"], name

    team = make_team(org)
    review = team.direct(team.supervisor)
    complete(team.supervisor, review, 2)
    served = feed(org.admin)["items"]
    assert {e["type"] for e in served} >= {"recording.created", "review.submitted", "flag.raised"}
    for event in served:
        validators[event["type"]].validate(event)
    # the schemas are strict enough to refuse what the type does not say
    wrong = {**served[0], "type": "review.submitted"}
    assert not validators["review.submitted"].is_valid(wrong)
    # and the document lists the same types
    document = org.admin.api.get("/schema/openapi.json").json()
    items = document["components"]["schemas"]["EventPage"]["properties"]["items"]["items"]["oneOf"]
    assert len(items) == len(EVENT_TYPES)


def test_an_organisation_sees_only_its_own_events(org: Org, other_org: Org) -> None:
    make_team(org)
    mine = feed(org.admin)["items"]
    assert mine and {e["organisation_id"] for e in mine} == {org.id}
    theirs = feed(other_org.admin)
    assert theirs["items"] == [] and theirs["next_cursor"] == "0"
    # another organisation's cursor is no way in: its numbers are per organisation
    assert feed(other_org.admin, after="0")["items"] == []


def test_reading_the_feed_takes_the_events_scope_and_an_admin(org: Org) -> None:
    team = make_team(org)
    assert_problem(team.supervisor.api.get("/v1/events"), 403)
    scoped = org.member("admin", kind="integration", name="EHR", scopes=["recordings:write"])
    assert_problem(scoped.api.get("/v1/events"), 403)
    reader = org.member("admin", kind="integration", name="EHR feed", scopes=["events:read"])
    assert [e["type"] for e in feed(reader)["items"]] == ["recording.created"]
    assert_problem(reader.api.get("/v1/events", params={"after": "-1"}), 400)
    assert_problem(reader.api.get("/v1/events", params={"after": "x"}), 400)


def test_a_transaction_that_fails_after_appending_leaves_no_event(settings: Settings, org: Org) -> None:
    org_id = uuid.UUID(org.id)
    payload = RecordingCreated(recording_id=uuid.uuid4(), case_id=uuid.uuid4(), therapist_id=uuid.uuid4())

    async def run() -> tuple[int, list[int]]:
        database = Database(settings)
        try:

            async def failing() -> None:
                async with database.transaction() as tx:
                    await service.record(tx, org_id, payload)
                    raise RuntimeError("the change failed after its event was appended")

            with pytest.raises(RuntimeError):
                await failing()
            async with database.transaction() as tx:
                kept = await repository.page_after(tx, org_id, 0, 100)
                await service.record(tx, org_id, payload)
            async with database.transaction() as tx:
                after = await repository.page_after(tx, org_id, 0, 100)
            return len(kept), [e.seq for e in after]
        finally:
            await database.dispose()

    kept, seqs = asyncio.run(run())
    assert kept == 0
    assert seqs == [1]  # the number the failed transaction took was given back
