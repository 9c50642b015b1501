"""A clinical team with one recorded session, and the review steps the tests repeat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.recordings.test_api import recording_body, setup_team
from tests.support import Org, Person

RUBRIC = "alliance"
ITEMS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]


def full(value: int = 5, **overrides: int) -> dict[str, Any]:
    """A complete set of alliance responses."""
    return {"items": {**dict.fromkeys(ITEMS, value), **overrides}}


@dataclass
class Team:
    org: Org
    supervisor: Person
    therapist: Person
    peer: Person
    bystander: Person
    case_id: str
    recording: dict[str, Any]

    @property
    def recording_id(self) -> str:
        return str(self.recording["id"])

    def assign(self, by: Person, reviewer: Person, role: str, **extra: Any) -> httpx.Response:
        body = {"recording_id": self.recording_id, "reviewer_id": reviewer.id, "role": role, "rubric_key": RUBRIC}
        return by.api.post("/v1/review-requests", json={**body, **extra})

    def request(self, by: Person, reviewer: Person, role: str, **extra: Any) -> dict[str, Any]:
        made = self.assign(by, reviewer, role, **extra)
        assert made.status_code == 201, made.text
        return dict(made.json())

    def start(self, reviewer: Person, request: dict[str, Any]) -> dict[str, Any]:
        made = reviewer.api.post("/v1/reviews", json={"request_id": request["id"]})
        assert made.status_code == 201, made.text
        return dict(made.json())

    def direct(self, reviewer: Person) -> dict[str, Any]:
        made = reviewer.api.post("/v1/reviews", json={"recording_id": self.recording_id, "rubric_key": RUBRIC})
        assert made.status_code == 201, made.text
        return dict(made.json())


def make_team(org: Org, **recording: Any) -> Team:
    """A supervisor linked to a therapist, a peer clinician, a bystander clinician, and one session."""
    supervisor, therapist, bystander, case_id = setup_team(org)
    peer = org.member("clinician")
    made = therapist.api.post("/v1/recordings", json=recording_body(case_id, **recording))
    assert made.status_code == 201, made.text
    return Team(org, supervisor, therapist, peer, bystander, case_id, made.json())


def save(reviewer: Person, review: dict[str, Any], **changes: Any) -> httpx.Response:
    """PATCH a draft under the ETag the caller last read."""
    current = reviewer.api.get(f"/v1/reviews/{review['id']}")
    assert current.status_code == 200, current.text
    return reviewer.api.patch(
        f"/v1/reviews/{review['id']}", json=changes, headers={"If-Match": current.headers["etag"]}
    )


def complete(reviewer: Person, review: dict[str, Any], value: int = 5, **overrides: int) -> dict[str, Any]:
    """Fill a draft with a complete set of responses and submit it."""
    saved = save(reviewer, review, responses=full(value, **overrides))
    assert saved.status_code == 200, saved.text
    submitted = reviewer.api.post(f"/v1/reviews/{review['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    return dict(submitted.json())
