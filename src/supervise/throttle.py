"""Rate limits, counted by the ``limits`` library: per API key, per organisation, and per source address for
requests that carry no valid key.

Each limit is a fixed window that opens at its first request (``limits``' ``FixedWindowRateLimiter`` semantics,
one atomic increment per request). The counters live in Redis when ``SUPERVISE_REDIS_URL`` is set, so that every
worker process counts against the same limit (``supervise serve`` requires it for ``--workers`` > 1), and in
the process otherwise.

* A request with a valid key counts once against its key and once against its organisation; past either
  limit it is refused with 429 before its permission is checked, so refused attempts are bounded too. Every
  answer to it carries ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) for the
  limit nearer to running out.
* A request without a valid key (a public route, or one that fails authentication) counts against its
  source address, and past that limit gets 429 instead of its answer. A valid key is never refused because
  others at the same address (a clinic's NAT, a proxy) sent bad ones.
* When Redis cannot be reached, requests are served unthrottled and each failure is logged: the limits guard
  against abuse, and an outage of their counters must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from supervise import metrics, problems
from supervise.config import ConfigError, Settings
from supervise.errors import DomainError

__all__ = ["Limited", "Throttle", "TooManyRequests"]

log = logging.getLogger("supervise.throttle")


class TooManyRequests(DomainError):
    status = 429


@dataclass(frozen=True, slots=True)
class Limited:
    """Where a request stands against one limit: its RateLimit header fields."""

    policy: str
    limit: int
    window: int
    remaining: int
    """Requests left in the window; negative once this request went past the limit."""
    reset: int
    """Seconds until the window closes."""

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window}',
            "RateLimit": f'"{self.policy}";r={max(0, self.remaining)};t={self.reset}',
        }

    def refusal(self) -> TooManyRequests:
        subject = {
            "key": "this API key",
            "organisation": "this organisation",
            "address": "this address",
            "link": "this form link",
        }
        return TooManyRequests(
            problems.TOO_MANY_REQUESTS,
            f"Too many requests for {subject[self.policy]}: {self.limit} per {self.window} s. "
            f"Retry after {self.reset} s.",
            headers={"Retry-After": str(self.reset), **self.headers()},
        )


def _limit(settings: Settings, name: str) -> RateLimitItem:
    raw: str = getattr(settings, name)
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(
            f"SUPERVISE_{name.upper()} must be a rate such as '600/minute' or '10/second', got {raw!r}"
        ) from None


class Throttle:
    """The application's rate limits (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.per_key = _limit(settings, "rate_limit_per_key")
        self.per_organisation = _limit(settings, "rate_limit_per_organisation")
        self.per_address = _limit(settings, "rate_limit_per_address")
        self.per_form_token = _limit(settings, "rate_limit_per_form_token")
        self.storage: Storage
        self._warned_at = -math.inf
        self._closes: dict[str, float] = {}
        """When each window this process has counted in closes: asked of the storage once per window, not per
        request, so that a request costs one round trip to Redis per limit."""
        if settings.redis_url:
            scheme, _, rest = settings.redis_url.partition("://")
            if scheme not in ("redis", "rediss", "unix") or not rest:
                raise ConfigError(
                    f"SUPERVISE_REDIS_URL must be a redis://, rediss:// or unix:// URL, got {settings.redis_url!r}"
                )
            self.storage = RedisStorage(
                ("async+redis+unix://" + rest) if scheme == "unix" else "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="supervise",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
        else:
            self.storage = MemoryStorage(wrap_exceptions=True)

    async def _count(self, item: RateLimitItem, policy: str, identifier: str) -> Limited | None:
        key = item.key_for(policy, identifier)
        window = item.get_expiry()
        try:
            count = await self.storage.incr(key, window)
            now = time.time()
            closes = self._closes.get(key, 0.0)
            if count == 1:  # this request opened the window
                closes = now + window
            elif closes <= now:  # opened elsewhere (another worker), or a window this process saw has closed
                closes = await self.storage.get_expiry(key)
        except StorageError as exc:
            now = time.monotonic()
            if now - self._warned_at >= 60:  # once a minute, not once a request
                self._warned_at = now
                log.warning(
                    "rate limits not counted (again within the next minute): their storage failed: %r",
                    exc.storage_error,
                )
            return None
        if len(self._closes) >= 10_000:
            self._closes.clear()
        self._closes[key] = closes
        return Limited(policy, item.amount, window, item.amount - count, max(1, math.ceil(closes - now)))

    async def caller(self, credential_id: uuid.UUID, org_id: uuid.UUID) -> Limited | None:
        """Count a request made with a valid key (or a member's access token: ``Principal.credential_id``); raise
        :class:`TooManyRequests` past its key's or its organisation's limit. Returns where it stands, for the
        response's header fields."""
        by_key = await self._count(self.per_key, "key", credential_id.hex)
        return _nearer(by_key, await self._count(self.per_organisation, "organisation", org_id.hex))

    async def anonymous(self, address: str | None) -> Limited | None:
        """Count a request without a valid key against its source address; raise past the limit."""
        return _nearer(await self._count(self.per_address, "address", address or "unknown"), None)

    async def form_link(self, address: str | None, token_digest: str) -> Limited | None:
        """Count a request on a client form link against its source address and against the link; raise past
        either limit."""
        by_address = await self._count(self.per_address, "address", address or "unknown")
        return _nearer(by_address, await self._count(self.per_form_token, "link", token_digest))

    async def close(self) -> None:
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()


def _nearer(first: Limited | None, second: Limited | None) -> Limited | None:
    """The limit nearer to running out; raises :class:`TooManyRequests` if the request went past either."""
    counted = [limited for limited in (first, second) if limited is not None]
    for limited in counted:
        if limited.remaining < 0:
            metrics.rate_limited.labels(limited.policy).inc()
            raise limited.refusal()
    return min(counted, key=lambda limited: limited.remaining, default=None)
