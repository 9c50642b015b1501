"""The delivery log, per attempt, against a real receiver on loopback: every attempt kept with its status,
latency, error and what followed; a lost worker's attempt logged as lost; redeliveries appended; attempts pruned
with their deliveries; and a receiver that hangs, fails or redirects gets no request beyond the schedule."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import pytest
import time_machine
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database
from supervise.events import delivery, repository
from supervise.events.tables import WebhookDeliveryAttempt
from tests.events.test_feed import prune
from tests.events.test_webhooks import Receiver, clinic, deliver, hooks_client, log, loopback, receiver, register
from tests.reviews.support import make_team
from tests.support import Org, make_org
from tests.test_http import assert_problem

__all__ = ["clinic", "hooks_client", "loopback", "receiver"]

HANG = 3.0
"""Past the tests' 1 s timeout."""


def attempts(org: Org, endpoint: dict[str, Any], entry: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    """The delivery's attempts, newest first."""
    answer = org.admin.api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{entry['id']}/attempts", params=params
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_the_log_keeps_every_attempt_with_its_status_latency_and_error(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
    """500, then a hang past the timeout, then 200: three attempts, each as it went."""
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(500, {}, 0.0), (200, {}, HANG)]
    start = utcnow()
    make_team(clinic)
    assert deliver(loopback) == 1
    with time_machine.travel(start + dt.timedelta(seconds=10)):
        assert deliver(loopback) == 1
    with time_machine.travel(start + dt.timedelta(minutes=8)):  # the second wait: 5 minutes, with jitter
        assert deliver(loopback) == 1
        [entry] = log(clinic, endpoint)
        third, second, first = attempts(clinic, endpoint, entry)
    assert len(receiver.received) == 3

    assert [a["attempt"] for a in (first, second, third)] == [1, 2, 3]
    assert {a["delivery_id"] for a in (first, second, third)} == {entry["id"]}
    assert [a["status"] for a in (first, second, third)] == [500, None, 200]
    assert [a["error"] for a in (first, second, third)] == ["answered 500", "no answer within 1 s", None]
    assert [a["next_action"] for a in (first, second, third)] == ["retry", "retry", "succeeded"]
    assert 0 <= first["latency_ms"] < 1000 and 0 <= third["latency_ms"] < 1000
    assert 1000 <= second["latency_ms"] < HANG * 1000  # the timeout, not the receiver's hang
    # each retry was due when the schedule said, and the next attempt started no earlier
    assert dt.timedelta(seconds=4) <= at(first["retry_at"]) - at(first["started_at"]) <= dt.timedelta(seconds=7)
    assert dt.timedelta(minutes=4) <= at(second["retry_at"]) - at(second["started_at"]) <= dt.timedelta(minutes=7)
    assert at(first["retry_at"]) <= at(second["started_at"]) and at(second["retry_at"]) <= at(third["started_at"])
    assert third["retry_at"] is None
    # the delivery agrees with its last attempt
    got = clinic.admin.api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{entry['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == entry
    assert (entry["state"], entry["attempts"], entry["last_status"]) == ("succeeded", 3, 200)
    assert entry["last_latency_ms"] == third["latency_ms"]

    # paged as every list is: newest first, a cursor to the rest
    page = clinic.admin.api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{entry['id']}/attempts", params={"limit": 2}
    ).json()
    assert ([a["attempt"] for a in page["items"]], page["has_more"]) == ([3, 2], True)
    rest = attempts(clinic, endpoint, entry, limit=2, cursor=page["next_cursor"])
    assert [a["attempt"] for a in rest] == [1]
    other = clinic.admin.api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
        params={"cursor": page["next_cursor"]},
    )
    assert_problem(other, 400)  # a cursor is only good for the list it came from


def test_a_lost_workers_attempt_is_logged_as_lost_when_the_delivery_is_reclaimed(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
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
    [entry] = log(clinic, endpoint)
    [under_way] = attempts(clinic, endpoint, entry)  # while its lease holds: under way, no outcome yet
    assert (under_way["attempt"], under_way["next_action"], under_way["status"], under_way["error"]) == (
        1,
        None,
        None,
        None,
    )
    assert deliver(loopback) == 0
    with time_machine.travel(start + dt.timedelta(minutes=1)):
        assert deliver(loopback) == 1
        [entry] = log(clinic, endpoint)
        second, lost = attempts(clinic, endpoint, entry)
    assert len(receiver.received) == 1
    assert (lost["attempt"], lost["status"], lost["latency_ms"], lost["next_action"]) == (1, None, None, "retry")
    assert lost["error"].startswith("worker lost")
    assert at(lost["started_at"]) == at(under_way["started_at"])
    assert at(lost["retry_at"]) == at(second["started_at"])  # taken again once its lease ran out
    assert (second["attempt"], second["status"], second["next_action"]) == (2, 200, "succeeded")
    assert (entry["state"], entry["attempts"]) == ("succeeded", 2)


def test_a_late_outcome_of_a_reclaimed_attempt_does_not_rewrite_the_log(
    clinic: Org, loopback: Settings, receiver: Receiver
) -> None:
    """A worker that outlived its lease (paused, say) reports after another took the delivery: ignored."""
    register(clinic, receiver.url, ["recording.created"])
    make_team(clinic)
    start = utcnow()

    async def run() -> tuple[bool, list[WebhookDeliveryAttempt]]:
        database = Database(loopback)
        try:
            async with database.transaction() as tx:
                [(slow, _)] = await repository.claim_due(tx, start, start + dt.timedelta(seconds=1), 10)
            async with database.transaction() as tx:
                [(fast, _)] = await repository.claim_due(tx, start + dt.timedelta(seconds=2), start, 10)
            async with database.transaction() as tx:
                late = await repository.finish_attempt(
                    tx, slow.id, slow.attempts, {"state": "succeeded"}, {"status": 200, "next_action": "succeeded"}
                )
            async with database.transaction() as tx:
                rows = await tx.scalars(
                    select(WebhookDeliveryAttempt)
                    .where(WebhookDeliveryAttempt.delivery_id == fast.id)
                    .order_by(WebhookDeliveryAttempt.attempt)
                )
                return late, list(rows)
        finally:
            await database.dispose()

    late, rows = asyncio.run(run())
    assert late is False
    assert [(r.attempt, r.status, r.next_action) for r in rows] == [(1, None, "retry"), (2, None, None)]
    assert rows[0].error == repository.WORKER_LOST


def test_redelivery_adds_to_the_log(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(410, {}, 0.0)]
    make_team(clinic)
    assert deliver(loopback) == 1
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    etag = clinic.admin.api.get(url).headers["etag"]
    assert clinic.admin.api.patch(url, json={"active": True}, headers={"If-Match": etag}).status_code == 200
    [entry] = log(clinic, endpoint)
    for _ in range(2):  # once after the 410, once after a success
        assert clinic.admin.api.post(f"{url}/deliveries/{entry['id']}/redeliver").status_code == 200
        assert deliver(loopback) == 1
    third, second, first = attempts(clinic, endpoint, entry)
    assert [(a["attempt"], a["status"], a["next_action"]) for a in (first, second, third)] == [
        (1, 410, "disabled"),
        (2, 200, "succeeded"),
        (3, 200, "succeeded"),
    ]
    assert first["error"] == "answered 410"
    assert len(receiver.received) == 3


def test_attempts_are_the_organisations_own(
    clinic: Org, hooks_client: TestClient[Litestar], loopback: Settings, receiver: Receiver
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    elsewhere = register(clinic, receiver.url, ["review.requested"])
    make_team(clinic)
    assert deliver(loopback) == 1
    [entry] = log(clinic, endpoint)
    other = make_org(hooks_client, loopback)
    mine = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{entry['id']}"
    for path in (mine, f"{mine}/attempts"):
        assert clinic.admin.api.get(path).status_code == 200
        assert assert_problem(other.admin.api.get(path), 404)["type"].endswith("/not-found")
    # nor is a delivery reached through another endpoint of the same organisation
    assert_problem(clinic.admin.api.get(f"/v1/webhook-endpoints/{elsewhere['id']}/deliveries/{entry['id']}"), 404)
    assert_problem(
        clinic.admin.api.get(f"/v1/webhook-endpoints/{elsewhere['id']}/deliveries/{entry['id']}/attempts"), 404
    )


async def _attempts_of(settings: Settings, delivery_id: str) -> int:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            count = await tx.scalar(
                select(func.count())
                .select_from(WebhookDeliveryAttempt)
                .where(WebhookDeliveryAttempt.delivery_id == uuid.UUID(delivery_id))
            )
            return int(count or 0)
    finally:
        await database.dispose()


def test_attempts_are_pruned_with_their_deliveries(clinic: Org, loopback: Settings, receiver: Receiver) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    receiver.answers = [(500, {}, 0.0), (200, {}, 0.0), (500, {}, 0.0)]
    then = utcnow() - dt.timedelta(days=31)
    with time_machine.travel(then):
        make_team(clinic)  # settled: 500, then 200
        assert deliver(loopback) == 1
    with time_machine.travel(then + dt.timedelta(minutes=1)):
        assert deliver(loopback) == 1
        make_team(clinic)  # still pending after its 500: kept
        assert deliver(loopback) == 1
    pending, settled = log(clinic, endpoint)
    assert (pending["state"], settled["state"]) == ("pending", "succeeded")
    assert asyncio.run(_attempts_of(loopback, settled["id"])) == 2

    assert "1 settled webhook deliveries" in prune(loopback)
    assert [d["id"] for d in log(clinic, endpoint)] == [pending["id"]]
    assert asyncio.run(_attempts_of(loopback, settled["id"])) == 0
    assert [a["status"] for a in attempts(clinic, endpoint, pending)] == [500]


def test_errors_are_kept_as_one_bounded_printable_line() -> None:
    noisy = "RemoteProtocolError: illegal header line: b'X-\x00Evil\x1b[31m\r\nSet: 1'" + " padding" * 60
    kept = delivery.printable(noisy)
    assert len(kept) == 300 and kept.endswith("…")
    assert kept.isprintable() and "\n" not in kept and "\x1b" not in kept
    assert kept.startswith("RemoteProtocolError: illegal header line: b'X- Evil [31m Set: 1' padding")
    assert delivery.printable("answered 500") == "answered 500"


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ((200, {}, HANG), None, "no answer within 1 s"),
        ((500, {}, 0.0), 500, "answered 500"),
        ((302, {"Location": "http://127.0.0.1:{port}/internal"}, 0.0), 302, "redirects are not followed"),
        ((307, {"Location": "http://10.0.0.1/internal"}, 0.0), 307, "redirects are not followed"),
        ((308, {"Location": "http://169.254.169.254/latest/meta-data"}, 0.0), 308, "redirects are not followed"),
    ],
    ids=["hang", "500", "302-to-loopback", "307-to-private", "308-to-link-local"],
)
def test_a_failing_receiver_gets_no_request_beyond_the_schedule_and_no_redirect_is_followed(
    clinic: Org,
    loopback: Settings,
    receiver: Receiver,
    answer: tuple[int, dict[str, str], float],
    status: int | None,
    error: str,
) -> None:
    endpoint = register(clinic, receiver.url, ["recording.created"])
    code, headers, delay = answer
    receiver.answers = [(code, {k: v.format(port=receiver.port) for k, v in headers.items()}, delay)]
    start = utcnow()
    make_team(clinic)
    began = time.monotonic()
    assert deliver(loopback) == 1
    assert time.monotonic() - began < HANG  # a redirect to 10.0.0.1 followed would hang to the timeout too
    assert len(receiver.received) == 1
    assert deliver(loopback, rounds=3) == 0  # not due again before the schedule's first wait (5 s, -20%)
    with time_machine.travel(start + dt.timedelta(seconds=3.5)):
        assert deliver(loopback) == 0
    assert len(receiver.received) == 1
    with time_machine.travel(start + dt.timedelta(seconds=10)):
        assert deliver(loopback) == 1
        [entry] = log(clinic, endpoint)
        second, first = attempts(clinic, endpoint, entry)
        assert deliver(loopback) == 0
    assert len(receiver.received) == 2  # one per attempt, each to the registered URL
    assert [r.path for r in receiver.received] == ["/hooks/supervise"] * 2
    assert (first["status"], first["next_action"]) == (status, "retry")
    assert error in first["error"]
    assert (second["status"], second["next_action"]) == (200, "succeeded")
