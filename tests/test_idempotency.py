"""Idempotency-Key on POST: same key and body replays; another body is 422; concurrent duplicates make one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support import Api, Org
from tests.test_http import assert_problem


def test_same_key_same_body_replays_the_first_response(org: Org) -> None:
    body = {"name": "Replayed", "email": "replay@clinic.example", "roles": ["clinician"]}
    headers = {"Idempotency-Key": "sync-0001"}
    first = org.admin.api.post("/v1/members", json=body, headers=headers)
    second = org.admin.api.post("/v1/members", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    emails = [m["email"] for m in org.admin.api.get("/v1/members").json()["items"]]
    assert emails.count("replay@clinic.example") == 1


def test_same_key_other_body_is_422(org: Org) -> None:
    headers = {"Idempotency-Key": "sync-0002"}
    assert (
        org.admin.api.post("/v1/members", json={"name": "A", "email": "a@c.example"}, headers=headers).status_code
        == 201
    )
    problem = assert_problem(
        org.admin.api.post("/v1/members", json={"name": "B", "email": "b@c.example"}, headers=headers), 422
    )
    assert problem["errors"][0]["field"] == "Idempotency-Key"


def test_keys_are_per_member(org: Org) -> None:
    other_admin = org.member("admin")
    headers = {"Idempotency-Key": "shared-key"}
    a = org.admin.api.post("/v1/members", json={"name": "A", "email": "a1@c.example"}, headers=headers)
    b = other_admin.api.post("/v1/members", json={"name": "B", "email": "b1@c.example"}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_members_keys_share_their_retries(org: Org) -> None:
    """A member's front end and command line hold different API keys: a retry through either is one request."""
    cli = Api(
        org.client, org.admin.api.post(f"/v1/members/{org.admin.id}/api-keys", json={"name": "cli"}).json()["secret"]
    )
    body = {"name": "Once", "email": "once@c.example"}
    headers = {"Idempotency-Key": "onboard-once"}
    first = org.admin.api.post("/v1/members", json=body, headers=headers)
    again = cli.post("/v1/members", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = assert_problem(cli.post("/v1/members", json={**body, "name": "Twice"}, headers=headers), 422)
    assert other["errors"][0]["field"] == "Idempotency-Key"


def test_a_replay_never_reaches_past_the_key_that_asks(org: Org) -> None:
    """A narrower key of the same member cannot fetch what a wider key created by replaying its request."""
    body = {"name": "Wide", "email": "wide@c.example"}
    headers = {"Idempotency-Key": "wide-1"}
    assert org.admin.api.post("/v1/members", json=body, headers=headers).status_code == 201
    reader = org.admin.api.post(
        f"/v1/members/{org.admin.id}/api-keys", json={"name": "reader", "scopes": ["members:read"]}
    ).json()["secret"]
    assert_problem(Api(org.client, reader).post("/v1/members", json=body, headers=headers), 403)


def test_replays_are_audited(org: Org) -> None:
    body = {"name": "Twice", "email": "twice@c.example"}
    headers = {"Idempotency-Key": "audit-replay"}
    org.admin.api.post("/v1/members", json=body, headers=headers)
    org.admin.api.post("/v1/members", json=body, headers=headers)
    events = org.admin.api.get("/v1/audit-events").json()["items"]
    actions = [e["action"] for e in events if e["actor_member_id"] == org.admin.id]
    assert actions.count("idempotency.replay") == 1
    assert actions.count("member.create") == 1


def test_twenty_concurrent_identical_posts_create_one_resource(org: Org) -> None:
    body = {"name": "Once", "email": "once@clinic.example"}
    headers = {"Idempotency-Key": "burst-1"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: org.admin.api.post("/v1/members", json=body, headers=headers), range(20)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    emails = [m["email"] for m in org.admin.api.get("/v1/members").json()["items"]]
    assert emails.count("once@clinic.example") == 1


def test_replayed_key_creation_never_returns_the_secret_again(org: Org) -> None:
    headers = {"Idempotency-Key": "key-once"}
    url = f"/v1/members/{org.admin.id}/api-keys"
    first = org.admin.api.post(url, json={"name": "ci"}, headers=headers)
    second = org.admin.api.post(url, json={"name": "ci"}, headers=headers)
    assert first.json()["secret"].startswith("svk_")
    assert second.json()["secret"] is None
    assert second.json()["id"] == first.json()["id"]


def test_failed_request_is_not_remembered(org: Org) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    assert_problem(org.admin.api.post("/v1/members", json={"name": "No Mail"}, headers=headers), 422)
    fixed = org.admin.api.post("/v1/members", json={"name": "Mail", "email": "m@c.example"}, headers=headers)
    assert fixed.status_code == 201


def test_malformed_key_is_400(org: Org) -> None:
    problem = assert_problem(
        org.admin.api.post(
            "/v1/members", json={"name": "A", "email": "q@c.example"}, headers={"Idempotency-Key": "x" * 300}
        ),
        400,
    )
    assert problem["errors"][0]["field"] == "Idempotency-Key"
