"""The same day's batch sent several times at once (a clinic system that retries while its first push is still
running, or two of its workers syncing the same day), against a real server (two workers on PostgreSQL): every
item of every answer is ``created`` or ``unchanged``, and the cases its items name by reference are made once.

A batch reads the cases and recordings it already knows after it takes the organisation's lock, so a batch
that waited for another sees what that one committed instead of failing its items on the unique keys."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.test_serve import SUPERVISE, call, environment, new_org, redis_url, serving

PUSHES, CASES, SESSIONS = 4, 5, 4


def session(therapist_id: str, ref: str, number: int, external_id: str) -> dict[str, Any]:
    """Session ``number`` of the case ``ref``, the case named by reference."""
    return {
        "case": {"therapist_id": therapist_id, "external_ref": ref},
        "occurred_at": f"2026-11-{number % 28 + 1:02d}T10:00:00+01:00",
        "session_number": number,
        "duration_ms": 3_000_000,
        "medium": "audio",
        "media": {"uri": f"s3://race/{external_id}.m4a", "sha256": hashlib.sha256(external_id.encode()).hexdigest()},
        "consent": {"scope": "supervision"},
        "external_id": external_id,
    }


def day(therapist_id: str) -> list[dict[str, Any]]:
    """SESSIONS sessions of each of CASES new clients."""
    return [session(therapist_id, f"R-{c}", s, f"race-{c}-{s}") for c in range(CASES) for s in range(1, SESSIONS + 1)]


def every(port: int, key: str, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = call(port, "GET", f"{url}{'&' if '?' in url else '?'}limit=200{cursor}", key)
        assert status == 200, page
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        cursor = f"&cursor={page['next_cursor']}"


@pytest.mark.slow
def test_the_same_batch_pushed_at_once_makes_each_case_and_recording_once(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    env = environment(database_url, SUPERVISE_RATE_LIMIT_PER_ADDRESS="1000000/minute")
    argv: tuple[str, ...] = ()
    if backend == "postgresql":
        env |= {"SUPERVISE_REDIS_URL": redis_url(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
        argv = ("--workers", "2")
    admin = new_org(env)
    with serving(env, SUPERVISE, "serve", *argv) as port:
        status, clinician = call(
            port, "POST", "/v1/members", admin, {"name": "T", "email": "t@race.example", "roles": ["clinician"]}
        )
        assert status == 201, clinician
        items = day(clinician["id"])
        answers: list[tuple[int, Any]] = []
        start = threading.Barrier(PUSHES)

        def push() -> None:
            start.wait(30)
            answers.append(call(port, "POST", "/v1/recordings:batch", admin, {"items": items}))

        threads = [threading.Thread(target=push) for _ in range(PUSHES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert [status for status, _ in answers] == [200] * PUSHES, answers
        results = Counter(item["result"] for _, answer in answers for item in answer["items"])
        failed = [item["problem"] for _, answer in answers for item in answer["items"] if item["problem"]]
        assert failed == [] and results == {"created": len(items), "unchanged": len(items) * (PUSHES - 1)}
        cases = every(port, admin, "/v1/cases")
        assert sorted(c["external_ref"] for c in cases) == [f"R-{c}" for c in range(CASES)]
        assert len(every(port, admin, "/v1/recordings")) == len(items)
        created = every(port, admin, "/v1/audit-events?action=case.create")
        assert sorted(e["resource_id"] for e in created) == sorted(c["id"] for c in cases)


@pytest.mark.slow
@pytest.mark.backends("postgresql")  # SQLite has one writer at a time: no lock order to get wrong there
def test_single_writes_during_a_batch_wait_for_it_instead_of_deadlocking(database_url: str) -> None:
    """A 500-item batch holds the organisation's lock for a second or more while it inserts. A POST of a case
    or a recording it is about to insert, sent meanwhile, takes that lock before its own insert (the batch's
    order): it waits, then finds what the batch made. Taken after the insert, each waited for the other, and
    PostgreSQL broke the deadlock by failing one of them (500 then, for the whole batch or the single POST)."""
    env = environment(database_url, SUPERVISE_RATE_LIMIT_PER_ADDRESS="1000000/minute")
    admin = new_org(env)
    with serving(env, SUPERVISE, "serve") as port:
        status, clinician = call(
            port, "POST", "/v1/members", admin, {"name": "T", "email": "t@lock.example", "roles": ["clinician"]}
        )
        assert status == 201, clinician
        status, known = call(port, "POST", "/v1/cases", admin, {"therapist_id": clinician["id"], "external_ref": "K"})
        assert status == 201, known
        for delay in (0.2, 0.6):  # early in the batch, and well into it (a 500-item batch takes 0.8 s or more)
            tag = f"L{int(delay * 10)}"
            items = [session(clinician["id"], f"{tag}-{n}", 1, f"{tag}-{n}") for n in range(500)]
            last = {**{k: v for k, v in items[-1].items() if k != "case"}, "case_id": known["id"]}
            items[-1] = last
            answers: dict[str, tuple[int, Any]] = {}

            def push(items: list[dict[str, Any]] = items, answers: dict[str, Any] = answers) -> None:
                answers["batch"] = call(port, "POST", "/v1/recordings:batch", admin, {"items": items})

            pusher = threading.Thread(target=push)
            pusher.start()
            time.sleep(delay)
            case_body = {"therapist_id": clinician["id"], "external_ref": f"{tag}-498"}
            answers["case"] = call(port, "POST", "/v1/cases", admin, case_body)
            answers["recording"] = call(port, "POST", "/v1/recordings", admin, last)
            pusher.join(120)
            status, batch = answers["batch"]
            assert status == 200 and batch["failed"] == 0, (delay, answers)
            assert batch["created"] + batch["unchanged"] == 500, (delay, batch["created"], batch["unchanged"])
            case_status, case = answers["case"]
            assert case_status == 201 or (case_status == 409 and case["type"].endswith("/case-exists")), (delay, case)
            assert answers["recording"][0] in (200, 201), (delay, answers["recording"])
        cases = every(port, admin, "/v1/cases")
        assert len(cases) == len({c["external_ref"] for c in cases}) == 1 + 2 * 499
        recordings = every(port, admin, "/v1/recordings")
        assert len(recordings) == len({r["external_id"] for r in recordings}) == 2 * 500


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_a_consent_change_during_a_batch_that_changes_it_too_waits_instead_of_deadlocking(database_url: str) -> None:
    """A batch re-pushing 500 recordings with a later consent expiry holds the organisation's lock while it
    updates them. A PATCH of the last one's consent, sent meanwhile, takes the lock before it writes the row (the
    batch's order), so one of the two finds the other's change (409 or 412, retry) instead of a deadlock."""
    env = environment(database_url, SUPERVISE_RATE_LIMIT_PER_ADDRESS="1000000/minute")
    admin = new_org(env)
    with serving(env, SUPERVISE, "serve") as port:
        status, clinician = call(
            port, "POST", "/v1/members", admin, {"name": "T", "email": "t@consent.example", "roles": ["clinician"]}
        )
        assert status == 201, clinician
        items = [session(clinician["id"], f"C-{n}", 1, f"consent-{n}") for n in range(500)]
        status, first = call(port, "POST", "/v1/recordings:batch", admin, {"items": items})
        assert status == 200 and first["created"] == 500, first
        last = first["items"][-1]["recording"]
        later = [{**item, "consent": {"scope": "supervision", "expires_at": "2031-01-01T00:00:00Z"}} for item in items]
        answers: dict[str, tuple[int, Any]] = {}

        def push() -> None:
            answers["batch"] = call(port, "POST", "/v1/recordings:batch", admin, {"items": later})

        pusher = threading.Thread(target=push)
        pusher.start()
        time.sleep(0.2)
        answers["patch"] = call(
            port,
            "PATCH",
            f"/v1/recordings/{last['id']}",
            admin,
            {"consent_scope": "supervision_and_training"},
            **{"If-Match": f'"{last["version"]}"'},
        )
        pusher.join(120)
        status, batch = answers["batch"]
        assert status == 200, answers
        patched, last_item = answers["patch"][0], batch["items"][-1]
        assert batch["updated"] == 499 + (last_item["result"] == "updated"), batch["updated"]
        # Whichever went first, the other saw its change: the PATCH's If-Match is stale (412), or the batch's
        # item raced it (409 concurrent-write).
        assert (patched, last_item["status"]) in ((412, 200), (200, 409)), (patched, last_item)
