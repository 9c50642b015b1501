"""Sending webhooks: claim due deliveries, sign them per Standard Webhooks, post them, and schedule what failed.

- **Claiming** (:func:`dispatch_once`): a short transaction takes due deliveries of active endpoints with
  ``FOR UPDATE SKIP LOCKED`` (so any number of ``supervise worker`` processes share the work on PostgreSQL),
  numbers their attempt and leases them for :data:`LEASE` beyond the timeout: a worker killed mid-attempt loses
  nothing, the delivery is due again when its lease runs out. Receivers deduplicate by ``webhook-id``.
- **Sending** (:func:`attempt`): the URL is checked and resolved again (DNS can change since registration) and
  the request goes to the address checked, never resolved twice; redirects are not followed (a 3xx is a
  failure); every attempt has a timeout. Signed with the endpoint's secret, and during a rotation with the
  previous one too, by the ``standardwebhooks`` package.
- **Logging**: every attempt is a row of ``webhook_delivery_attempts``, written when it is claimed and
  completed with the outcome, in the transaction that records it on the delivery; one lost with its worker
  is completed as lost when the delivery is claimed again (:func:`supervise.events.repository.claim_due`).
- **Scheduling**: 2xx succeeds; 410 fails the delivery and disables the endpoint; anything else is retried
  after :data:`SCHEDULE` (with jitter, or later if the answer's ``Retry-After`` says so), and past the schedule
  the delivery fails and the endpoint is disabled, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import random
import time
from dataclasses import dataclass

import httpx
from standardwebhooks.webhooks import Webhook

from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database
from supervise.events import repository
from supervise.events.addresses import UnsafeAddress, resolve
from supervise.events.tables import WebhookDelivery, WebhookEndpoint

__all__ = [
    "LEASE",
    "SCHEDULE",
    "Dispatcher",
    "Outcome",
    "attempt",
    "client",
    "dispatch_once",
    "printable",
    "signatures",
]

_log = logging.getLogger("supervise.webhooks")

SCHEDULE = [
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=10),
]
"""The wait after each failed attempt (Standard Webhooks' suggested schedule): 8 attempts over about 28 hours."""
JITTER = 0.2
"""Each wait is drawn from +/- 20% of the schedule's, so receivers that recover are not hit by every retry at
once."""
MOST_RETRY_AFTER = dt.timedelta(hours=24)
LEASE = dt.timedelta(seconds=10)
"""Beyond the timeout: how long a claimed delivery is held for its worker."""
USER_AGENT = "supervise-webhooks/1"


def signatures(endpoint: WebhookEndpoint, msg_id: str, at: dt.datetime, body: str) -> str:
    """The ``webhook-signature`` header: one signature per secret in force (two during a rotation)."""
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > at:
        keys.append(endpoint.previous_secret)
    return " ".join(Webhook(key).sign(msg_id, at, body) for key in keys)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    latency_ms: int
    error: str | None
    retry_after: dt.timedelta | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


ERROR_LENGTH = 300


def printable(text: str) -> str:
    """An error as the log keeps it: one line of printable characters, at most :data:`ERROR_LENGTH`. (A
    protocol error can quote bytes of the receiver's answer; nothing else of it is kept, and its body is never
    read.)"""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= ERROR_LENGTH else line[: ERROR_LENGTH - 1] + "…"


def _retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """``Retry-After`` as seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return min(dt.timedelta(seconds=int(value.strip())), MOST_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max(when - now, dt.timedelta(0)), MOST_RETRY_AFTER)


def client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries go out with: no redirects, no proxies from the environment (they would
    reach what the address checks refuse), a timeout on every phase."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        headers={"User-Agent": USER_AGENT},
    )


async def attempt(
    http: httpx.AsyncClient, settings: Settings, endpoint: WebhookEndpoint, delivery: WebhookDelivery
) -> Outcome:
    """One attempt of ``delivery``; never raises for the receiver's faults."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        target = await resolve(endpoint.url, allow_loopback=settings.webhook_allow_loopback)
    except UnsafeAddress as exc:
        return Outcome(None, elapsed(), printable(f"refused: the URL {exc}"))
    now = utcnow()
    headers = {
        "Content-Type": "application/json",
        "Host": target.host_header,
        "webhook-id": str(delivery.event_id),
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures(endpoint, str(delivery.event_id), now, delivery.body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            request = http.build_request(
                "POST", target.connect_url, content=delivery.body.encode(), headers=headers, extensions=extensions
            )
            response = await http.send(request, stream=True)  # the answer's body is never read
            await response.aclose()
    except TimeoutError:
        return Outcome(None, elapsed(), f"no answer within {settings.webhook_timeout_seconds} s")
    except httpx.HTTPError as exc:
        return Outcome(None, elapsed(), printable(f"{type(exc).__name__}: {exc}"))
    status = response.status_code
    error = None
    if 300 <= status < 400:
        error = f"answered {status}: redirects are not followed"
    elif not 200 <= status < 300:
        error = f"answered {status}"
    return Outcome(status, elapsed(), error, _retry_after(response.headers.get("retry-after"), now))


async def _settle(database: Database, delivery: WebhookDelivery, outcome: Outcome, rng: random.Random) -> None:
    now = utcnow()
    values: dict[str, object] = {
        "last_status": outcome.status,
        "last_latency_ms": outcome.latency_ms,
        "last_error": outcome.error,
        "last_attempt_at": now,
    }
    logged: dict[str, object] = {"status": outcome.status, "latency_ms": outcome.latency_ms, "error": outcome.error}
    disable: str | None = None
    if outcome.succeeded:
        values["state"] = logged["next_action"] = "succeeded"
    elif outcome.status == 410:
        values["state"], logged["next_action"] = "failed", "disabled"
        disable = "the receiver answered 410 Gone"
    elif delivery.attempts > len(SCHEDULE):
        values["state"], logged["next_action"] = "failed", "disabled"
        disable = f"event {delivery.event_id} failed {delivery.attempts} attempts, the whole retry schedule"
    else:
        wait = SCHEDULE[delivery.attempts - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
        values["next_attempt_at"] = logged["retry_at"] = now + max(wait, outcome.retry_after or dt.timedelta(0))
        logged["next_action"] = "retry"
    async with database.transaction() as tx:
        recorded = await repository.finish_attempt(tx, delivery.id, delivery.attempts, values, logged)
        if recorded and disable is not None:
            await repository.disable_endpoint(tx, delivery.endpoint_id, disable, now)
    if disable is not None and recorded:
        _log.warning("webhook endpoint %s disabled: %s", delivery.endpoint_id, disable)


async def dispatch_once(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    limit: int = 20,
    rng: random.Random | None = None,
) -> int:
    """Claim up to ``limit`` due deliveries, attempt them concurrently, record each outcome; how many."""
    now = utcnow()
    lease_until = now + dt.timedelta(seconds=settings.webhook_timeout_seconds) + LEASE
    async with database.transaction() as tx:
        claimed = await repository.claim_due(tx, now, lease_until, limit)
    chance = rng or random.Random()  # noqa: S311 (jitter, not a secret)

    async def one(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        await _settle(database, delivery, await attempt(http, settings, endpoint, delivery), chance)

    await asyncio.gather(*(one(d, e) for d, e in claimed))
    return len(claimed)


class Dispatcher:
    """Delivers due webhooks until stopped: in ``supervise serve`` on SQLite (one, in process) and in every
    ``supervise worker`` process on PostgreSQL."""

    def __init__(self, database: Database, settings: Settings, *, idle: float = 1.0) -> None:
        self._database, self._settings, self._idle = database, settings, idle
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        async with client(self._settings) as http:
            while not self._stop.is_set():
                try:
                    done = await dispatch_once(self._database, self._settings, http)
                except Exception:  # the database away for a moment: try again, never stop delivering
                    _log.exception("delivering webhooks failed; retrying")
                    done = 0
                if not done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self._idle)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
