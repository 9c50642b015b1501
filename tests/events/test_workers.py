"""Delivery as operators run it: ``supervise serve`` delivers on SQLite, and ``supervise worker`` processes on
PostgreSQL, one of them killed with ``kill -9`` in the middle of a delivery."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.events.test_webhooks import Receiver, receiver
from tests.test_serve import SUPERVISE, call, environment, new_org, serving

__all__ = ["receiver"]


def until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def deliveries(port: int, key: str, endpoint_id: str) -> list[dict[str, Any]]:
    status, log = call(port, "GET", f"/v1/webhook-endpoints/{endpoint_id}/deliveries", key)
    assert status == 200, log
    return list(log["items"])


def a_session(port: int, key: str) -> str:
    """A therapist, a case and a recording: one recording.created event; the recording's id."""
    status, member = call(
        port, "POST", "/v1/members", key, {"name": "T", "email": "t@w.example", "roles": ["clinician"]}
    )
    assert status == 201, member
    status, case = call(port, "POST", "/v1/cases", key, {"therapist_id": member["id"], "external_ref": "W-1"})
    assert status == 201, case
    body = {
        "case_id": case["id"],
        "occurred_at": "2026-11-02T10:00:00+01:00",
        "session_number": 1,
        "duration_ms": 1000,
        "medium": "audio",
        "media": {"uri": "s3://w/1.mp3", "sha256": "b" * 64},
        "consent": {"scope": "supervision"},
    }
    status, recording = call(port, "POST", "/v1/recordings", key, body)
    assert status == 201, recording
    return str(recording["id"])


@pytest.mark.slow
def test_serve_delivers_webhooks_on_sqlite(tmp_path: Path, receiver: Receiver) -> None:
    env = environment(f"sqlite:///{tmp_path / 'serve.db'}", SUPERVISE_WEBHOOK_ALLOW_LOOPBACK="true")
    with serving(env) as port:
        key = new_org(env)
        status, endpoint = call(
            port, "POST", "/v1/webhook-endpoints", key, {"url": receiver.url, "event_types": ["recording.created"]}
        )
        assert status == 201, endpoint
        recording_id = a_session(port, key)
        until(lambda: receiver.received, 20)
    body = Webhook(endpoint["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
    assert body["type"] == "recording.created" and body["data"]["recording_id"] == recording_id


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_a_worker_killed_mid_delivery_loses_nothing(database_url: str, receiver: Receiver) -> None:
    env = environment(database_url, SUPERVISE_WEBHOOK_ALLOW_LOOPBACK="true", SUPERVISE_WEBHOOK_TIMEOUT_SECONDS="2")
    receiver.answers = [(200, {}, 30.0)]  # the first attempt hangs: its worker is killed meanwhile
    with serving(env) as port:
        key = new_org(env)
        status, endpoint = call(
            port, "POST", "/v1/webhook-endpoints", key, {"url": receiver.url, "event_types": ["recording.created"]}
        )
        assert status == 201, endpoint
        first = subprocess.Popen([SUPERVISE, "worker"], env=env, stderr=subprocess.DEVNULL)
        try:
            a_session(port, key)
            until(lambda: receiver.received, 30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            first.kill()
        second = subprocess.Popen([SUPERVISE, "worker"], env=env, stderr=subprocess.DEVNULL)
        try:
            until(lambda: len(receiver.received) == 2, 40)  # once the dead worker's lease ran out
            until(lambda: deliveries(port, key, endpoint["id"])[0]["state"] == "succeeded", 10)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        [entry] = deliveries(port, key, endpoint["id"])
        status, attempts = call(
            port, "GET", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{entry['id']}/attempts", key
        )
        assert status == 200, attempts
    assert (entry["state"], entry["attempts"]) == ("succeeded", 2)
    retried, lost = attempts["items"]  # the killed worker's attempt is in the log, as lost
    assert (lost["attempt"], lost["status"], lost["next_action"]) == (1, None, "retry")
    assert lost["error"].startswith("worker lost")
    assert (retried["attempt"], retried["status"], retried["next_action"]) == (2, 200, "succeeded")
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {entry["event_id"]}
    for received in receiver.received:
        Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert second.returncode == 0  # SIGTERM: the worker finishes what it holds and stops
