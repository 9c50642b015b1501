"""Webhooks against a real receiver on loopback: every event type signed and verified by ``standardwebhooks``,
failures retried on the schedule with the same ``webhook-id``, 410 and an exhausted schedule disable the
endpoint, no redirect followed, a killed worker loses nothing, and addresses checked at registration and at
delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest
import time_machine
from litestar import Litestar
from litestar.testing import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from supervise.app import create_app
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database
from supervise.events import delivery, repository
from supervise.events.schemas import EVENT_TYPES
from tests.client_ratings.test_client_ratings import ehr, srs
from tests.reviews.support import complete, make_team
from tests.support import Org, make_org
from tests.test_http import assert_problem


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on loopback: answers each request with the next of ``answers`` (then 200)."""

    port: int = 0
    answers: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/supervise"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, delay = state.answers.pop(0) if state.answers else (200, {}, 0.0)
            time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 64  # the dispatcher sends a batch at once

    server = Server(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def loopback(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_loopback=True, webhook_timeout_seconds=1)


@pytest.fixture(scope="module")
def hooks_client(loopback: Settings) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(loopback), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def clinic(hooks_client: TestClient[Litestar], loopback: Settings) -> Iterator[Org]:
    """An organisation whose endpoints (and their pending deliveries) are deleted after the test, so that no
    test's deliveries fall due in another's."""
    org = make_org(hooks_client, loopback)
    yield org
    for endpoint in org.admin.api.get("/v1/webhook-endpoints").json()["items"]:
        org.admin.api.delete(f"/v1/webhook-endpoints/{endpoint['id']}")


def register(org: Org, url: str, types: list[str] | None = None) -> dict[str, Any]:
    made = org.admin.api.post("/v1/webhook-endpoints", json={"url": url, "event_types": types or list(EVENT_TYPES)})
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/v1/webhook-endpoints/{made.json()['id']}"
    return dict(made.json())


def deliver(settings: Settings, *, rounds: int = 1) -> int:
    """Run the dispatcher ``rounds`` times, as ``serve`` or ``worker`` would; how many attempts it made."""

    async def run() -> int:
        database = Database(settings)
        try:
            async with delivery.client(settings) as http:
                return sum([await delivery.dispatch_once(database, settings, http) for _ in range(rounds)])
        finally:
            await database.dispose()

    return asyncio.run(run())


def log(org: Org, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    answer = org.admin.api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def verified(secret: str, received: Received) -> dict[str, Any]:
    return dict(Webhook(secret).verify(received.body, received.headers))


def test_a_receiver_gets_every_event_type_signed(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["active"] is True
    team = make_team(clinic)
    url = f"/v1/recordings/{team.recording_id}"
    etag = team.therapist.api.get(url).headers["etag"]
    team.therapist.api.patch(url, json={"consent_expires_at": "2031-01-01T00:00:00Z"}, headers={"If-Match": etag})
    review = team.start(team.peer, team.request(team.supervisor, team.peer, "peer"))
    complete(team.peer, review, 5, trust=2)
    team.therapist.api.post(f"/v1/reviews/{review['id']}/acknowledge", json={"usefulness": 4})
    amendment = team.peer.api.post(f"/v1/reviews/{review['id']}/amend", json={"reason": "typo"})
    complete(team.peer, amendment.json(), 6)
    system = ehr(clinic)
    assert (
        system.api.post("/v1/client-ratings", json=srs(team.recording_id, (9, 9, 9, 9), "2026-11-02")).status_code
        == 201
    )

    deliver(loopback, rounds=2)
    bodies = [verified(endpoint["secret"], r) for r in receiver.received]
    assert {b["type"] for b in bodies} == set(EVENT_TYPES)
    feed = clinic.admin.api.get("/v1/events", params={"limit": 200}).json()["items"]
    assert sorted(bodies, key=lambda b: b["seq"]) == feed  # each event once, as the feed serves it
    assert all(r.headers["webhook-id"] == b["id"] for r, b in zip(receiver.received, bodies, strict=True))
    assert {d["state"] for d in log(clinic, endpoint)} == {"succeeded"}
    with pytest.raises(WebhookVerificationError):  # and another secret does not verify them
        verified("whsec_" + "A" * 32, receiver.received[0])


def test_a_failing_receiver_is_retried_on_the_schedule_until_it_recovers(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(500, {}, 0.0), (503, {"Retry-After": "600"}, 0.0)]
    start = utcnow()
    make_team(clinic)
    assert deliver(loopback) == 1
    [entry] = log(clinic, endpoint)
    assert (entry["state"], entry["attempts"], entry["last_status"]) == ("pending", 1, 500)
    due = dt.datetime.fromisoformat(entry["next_attempt_at"])
    assert dt.timedelta(seconds=3.9) <= due - start <= dt.timedelta(seconds=7)  # 5 s, with jitter
    verified(endpoint["secret"], receiver.received[-1])  # each as it arrives: its timestamp is checked too
    with time_machine.travel(start + dt.timedelta(seconds=10)):
        assert deliver(loopback) == 1  # the 503 asks for 600 s, more than the schedule's 5 minutes
        verified(endpoint["secret"], receiver.received[-1])
    with time_machine.travel(start + dt.timedelta(minutes=7)):
        assert deliver(loopback) == 0  # the schedule alone would have tried again by now
    with time_machine.travel(start + dt.timedelta(minutes=11)):
        assert deliver(loopback) == 1
        verified(endpoint["secret"], receiver.received[-1])
        [entry] = log(clinic, endpoint)
    assert (entry["state"], entry["attempts"], entry["last_status"]) == ("succeeded", 3, 200)
    assert entry["last_latency_ms"] is not None and entry["last_error"] is None
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # the same id on every attempt
    assert len({r.body for r in receiver.received}) == 1 and len(receiver.received) == 3


def test_past_the_schedule_the_delivery_fails_and_the_endpoint_says_so(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(500, {}, 0.0)] * 20
    make_team(clinic)
    start = utcnow()
    elapsed = dt.timedelta(0)
    for wait in [dt.timedelta(0), *delivery.SCHEDULE]:
        elapsed += wait * 1.25
        with time_machine.travel(start + elapsed):
            assert deliver(loopback) == 1
    with time_machine.travel(start + elapsed + dt.timedelta(days=2)):
        assert deliver(loopback) == 0
    assert len(receiver.received) == len(delivery.SCHEDULE) + 1  # nothing beyond the schedule
    [entry] = log(clinic, endpoint)
    assert (entry["state"], entry["attempts"]) == ("failed", 8)
    stored = clinic.admin.api.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()
    assert stored["active"] is False and "retry schedule" in stored["disabled_reason"]


def test_410_disables_the_endpoint_until_it_is_reactivated(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created", "review.requested"])
    receiver.answers = [(410, {}, 0.0)]
    team = make_team(clinic)
    assert deliver(loopback) == 1
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    stored = clinic.admin.api.get(url)
    assert stored.json()["active"] is False and "410" in stored.json()["disabled_reason"]
    team.request(team.supervisor, team.peer, "peer")  # while disabled: no delivery is made for it
    assert deliver(loopback) == 0 and len(receiver.received) == 1
    [failed] = log(clinic, endpoint)
    disabled = assert_problem(clinic.admin.api.post(f"{url}/deliveries/{failed['id']}/redeliver"), 409)
    assert disabled["type"].endswith("/endpoint-disabled")
    back = clinic.admin.api.patch(url, json={"active": True}, headers={"If-Match": stored.headers["etag"]})
    assert back.status_code == 200 and back.json()["disabled_reason"] is None
    again = clinic.admin.api.post(f"{url}/deliveries/{failed['id']}/redeliver")
    assert again.status_code == 200, again.text
    pending = assert_problem(clinic.admin.api.post(f"{url}/deliveries/{failed['id']}/redeliver"), 409)
    assert pending["type"].endswith("/delivery-pending")
    assert deliver(loopback) == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(failed["event_id"])] * 2


def test_redirects_are_not_followed_and_a_hanging_receiver_times_out(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(302, {"Location": f"http://127.0.0.1:{receiver.port}/internal"}, 0.0), (200, {}, 3.0)]
    start = utcnow()
    make_team(clinic)
    assert deliver(loopback) == 1
    [entry] = log(clinic, endpoint)
    assert entry["last_status"] == 302 and "redirects are not followed" in entry["last_error"]
    with time_machine.travel(start + dt.timedelta(seconds=10)):
        began = time.monotonic()
        assert deliver(loopback) == 1
        assert time.monotonic() - began < 2.5  # the 1 s timeout, not the receiver's 3 s
    [entry] = log(clinic, endpoint)
    assert entry["state"] == "pending" and "no answer within 1 s" in entry["last_error"]
    assert [r.path for r in receiver.received] == ["/hooks/supervise"] * 2  # never /internal


def test_a_worker_killed_mid_delivery_loses_nothing(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    make_team(clinic)
    start = utcnow()

    async def claim_and_die() -> int:
        database = Database(loopback)
        try:
            async with database.transaction() as tx:  # claimed and committed; then the worker is gone
                lease = start + dt.timedelta(seconds=loopback.webhook_timeout_seconds) + delivery.LEASE
                return len(await repository.claim_due(tx, start, lease, 10))
        finally:
            await database.dispose()

    assert asyncio.run(claim_and_die()) == 1
    assert deliver(loopback) == 0  # held by the dead worker's lease
    with time_machine.travel(start + dt.timedelta(minutes=1)):
        assert deliver(loopback) == 1
    assert len(receiver.received) == 1
    [entry] = log(clinic, endpoint)
    assert (entry["state"], entry["attempts"]) == ("succeeded", 2)


def test_rotation_signs_with_both_secrets_for_a_day(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    rotated = clinic.admin.api.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != endpoint["secret"]
    make_team(clinic)
    deliver(loopback)
    verified(endpoint["secret"], receiver.received[0])
    verified(new, receiver.received[0])
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2
    with time_machine.travel(utcnow() + dt.timedelta(hours=25)):
        make_team(clinic)
        deliver(loopback)
        verified(new, receiver.received[1])
        with pytest.raises(WebhookVerificationError):
            verified(endpoint["secret"], receiver.received[1])


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.clinic.example/x", "https"),
        ("https://10.1.2.3/hooks", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("https://[fd00::1]/hooks", "private"),
        ("https://user:pw@127.0.0.1/x", "credentials"),
        ("ftp://127.0.0.1/x", "https"),
    ],
)
def test_unsafe_urls_are_refused_at_registration(clinic: Org, url: str, problem: str) -> None:
    refused = assert_problem(
        clinic.admin.api.post("/v1/webhook-endpoints", json={"url": url, "event_types": ["review.submitted"]}), 422
    )
    assert refused["errors"][0]["field"] == "url" and problem in refused["errors"][0]["message"]
    assert refused["type"].endswith("/address-refused")


def test_loopback_and_unknown_types_are_refused_by_default(org: Org) -> None:
    body = {"url": "https://127.0.0.1:8443/hooks", "event_types": ["review.submitted"]}
    refused = assert_problem(org.admin.api.post("/v1/webhook-endpoints", json=body), 422)
    assert refused["errors"][0]["field"] == "url"
    body = {"url": "https://127.0.0.1/x", "event_types": ["review.submitted", "review.deleted"]}
    refused = assert_problem(org.admin.api.post("/v1/webhook-endpoints", json=body), 422)
    assert refused["errors"][0]["field"] == "event_types[1]" and refused["type"].endswith("/invalid-value")


def test_an_address_refused_at_delivery_gets_no_request(
    clinic: Org, settings: Settings, loopback: Settings, receiver: Receiver
) -> None:
    """Registered while loopback was allowed; now it is not (as if DNS had moved the host): nothing is sent."""
    endpoint = register(clinic, receiver.url, ["recording.created"])
    make_team(clinic)
    assert deliver(msgspec.structs.replace(loopback, webhook_allow_loopback=False)) == 1
    assert receiver.received == []
    [entry] = log(clinic, endpoint)
    assert entry["state"] == "pending" and entry["last_error"].startswith("refused")


def test_endpoints_are_the_organisations_own(
    clinic: Org, hooks_client: TestClient[Litestar], loopback: Settings, receiver: Receiver
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    other = make_org(hooks_client, loopback)
    make_team(other)  # another organisation's events go nowhere near this endpoint
    assert deliver(loopback) == 0
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    for answer in (other.admin.api.get(url), other.admin.api.get(f"{url}/deliveries"), other.admin.api.delete(url)):
        assert_problem(answer, 404)
    assert other.admin.api.get("/v1/webhook-endpoints").json()["items"] == []
    listed = clinic.admin.api.get("/v1/webhook-endpoints").json()["items"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert clinic.admin.api.delete(url).status_code == 204
    assert_problem(clinic.admin.api.get(url), 404)


@pytest.mark.backends("postgresql")
def test_workers_claim_disjoint_deliveries(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    """Two workers claiming at once: the second skips what the first holds, and waits for nothing."""
    register(clinic, receiver.url, ["recording.created"])
    for _ in range(4):
        make_team(clinic)

    async def run() -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        database = Database(loopback)
        now, lease = utcnow(), utcnow() + dt.timedelta(minutes=1)
        try:
            async with database.transaction() as first:
                mine = {d.id for d, _ in await repository.claim_due(first, now, lease, 2)}
                async with database.transaction() as second:
                    theirs = {d.id for d, _ in await asyncio.wait_for(repository.claim_due(second, now, lease, 10), 2)}
            return mine, theirs
        finally:
            await database.dispose()

    mine, theirs = asyncio.run(run())
    assert len(mine) == 2 and len(theirs) == 2 and not mine & theirs
