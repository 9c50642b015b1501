"""Settings, read from ``SUPERVISE_*`` environment variables."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import msgspec
from sqlalchemy.engine import make_url

__all__ = ["ConfigError", "Settings", "normalise_database_url"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./supervise.db"
_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?$")

_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the application reads from its environment."""

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL. SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://…``)."""
    secret_key: str | None = None
    """Server secret: pepper for API key hashes and the key that signs cursors.
    Required on PostgreSQL; on SQLite a random one is kept beside the database file."""
    database_pool_size: int = 0
    """Connections per worker process; 0 picks the measured default (1 on SQLite, 10 on PostgreSQL).
    On PostgreSQL keep ``workers * pool size`` below the server's ``max_connections``."""
    plugins: str = ""
    """Comma-separated plugin distributions to load (e.g. ``supervise-alliance,supervise-miti``); empty loads
    every installed plugin."""
    max_body_bytes: int = 1_048_576
    """Largest request body accepted; larger bodies get 413."""
    idempotency_window_hours: int = 24
    """How long an ``Idempotency-Key`` is remembered."""
    key_last_used_resolution_seconds: int = 60
    """``last_used_at`` of an API key is refreshed at most this often, so reads stay reads."""
    trusted_proxies: str = ""
    """Comma-separated addresses or networks (``10.0.0.0/8``) of the reverse proxies in front of the API. Only
    from these is ``X-Forwarded-For`` believed, for the client's address in the audit log; empty (the default)
    believes no one, so no client can write an address of its choosing into the log."""
    audit_denial_window_seconds: int = 60
    """Refusals repeated within this window (the same key, action, resource and address) are one audit event
    with their count (``supervise.audit.denials``)."""

    redis_url: str = ""
    """``redis://`` (or ``rediss://``, ``unix://``) URL of the Redis that holds the rate-limit counters, shared by
    every worker process; required for ``supervise serve --workers`` > 1. Empty counts in the process."""
    rate_limit_per_key: str = "6000/minute"
    """Requests one API key may make per window (``N/second``, ``N/minute``, ``N/hour``, ``N/day``)."""
    rate_limit_per_organisation: str = "30000/minute"
    """Requests all of one organisation's keys together may make per window."""
    rate_limit_per_address: str = "300/minute"
    """Requests without a valid key (public routes, failed authentication) one source address may make per
    window. Behind a proxy, set ``SUPERVISE_TRUSTED_PROXIES`` so that the address is the client's."""
    rate_limit_per_form_token: str = "10/minute"  # noqa: S105 (a rate, not a secret)
    """Requests one client form link (``/v1/forms/{token}``) may get per window, besides its address's limit:
    a guessed or leaked link cannot be hammered."""
    client_form_hours: int = 72
    """How long a client form link stays valid when its request names no expiry (at most 30 days)."""
    event_retention_days: int = 30
    """How long events stay in the change feed (``/v1/events``) before ``supervise events prune`` deletes them."""
    webhook_allow_loopback: bool = False
    """Let webhook endpoints be on loopback addresses, over plain http too (local development and tests).
    Private, link-local and other non-public addresses are refused whatever this says."""
    webhook_timeout_seconds: int = 10
    """How long one webhook attempt may take (connecting, sending and the answer) before it counts as failed."""
    cors_origins: str = ""
    """Comma-separated origins (``https://supervision.clinic.example``) whose pages may call the API from a
    browser. Exact origins only: a wildcard would let any page on the web use a supervisor's token. Empty (the
    default): no cross-origin calls."""

    oidc_leeway_seconds: int = 30
    """Clock skew allowed when checking an access token's ``exp`` and ``nbf``."""
    oidc_jwks_refetch_seconds: int = 60
    """An identity provider's keys are fetched again when a token names a key id they lack, but at most once
    in this many seconds: tokens with made-up key ids cannot make the server hammer the provider."""
    oidc_jwks_max_age_seconds: int = 3600
    """Keys older than this are fetched again at the next token, so a key the provider withdrew stops working."""
    oidc_http_timeout_seconds: int = 5
    """How long fetching an identity provider's discovery document or keys may take."""
    oidc_allow_http_loopback: bool = False
    """Allow ``http://`` issuer and key URLs on loopback addresses (``127.0.0.1``, ``::1``, ``localhost``), for
    tests and local development. Off (the default), issuers and their keys must be ``https://``."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = env.get(f"SUPERVISE_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            if field.type is bool:
                if raw.lower() not in _BOOLEANS:
                    raise ConfigError(f"SUPERVISE_{field.name.upper()} must be true or false, got {raw!r}")
                values[field.name] = _BOOLEANS[raw.lower()]
            elif field.type is int:
                try:
                    values[field.name] = int(raw)
                except ValueError:
                    raise ConfigError(f"SUPERVISE_{field.name.upper()} must be an integer, got {raw!r}") from None
            else:
                values[field.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    @property
    def idempotency_window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.idempotency_window_hours)

    @property
    def plugin_allow_list(self) -> frozenset[str] | None:
        names = frozenset(name.strip() for name in self.plugins.split(",") if name.strip())
        return names or None

    @property
    def proxies(self) -> list[str]:
        """:attr:`trusted_proxies` as a list, each one checked (a typo must not silently trust no one)."""
        proxies = [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]
        for entry in proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError(f"SUPERVISE_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
        return proxies

    @property
    def origins(self) -> list[str]:
        """:attr:`cors_origins` as a list, each one checked: scheme, host and port only, as browsers send them."""
        origins = [entry.strip() for entry in self.cors_origins.split(",") if entry.strip()]
        for origin in origins:
            if origin == "*":
                raise ConfigError(
                    "SUPERVISE_CORS_ORIGINS: '*' is refused; list the origins of your front ends exactly, "
                    "e.g. https://supervision.clinic.example"
                )
            if not _ORIGIN.match(origin):
                raise ConfigError(
                    f"SUPERVISE_CORS_ORIGINS: {origin!r} is not an origin: scheme, host and optional port, lower "
                    "case, no path or trailing slash (e.g. https://supervision.clinic.example or "
                    "http://localhost:5173)"
                )
        return origins

    @property
    def url(self) -> str:
        return normalise_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def server_secret(self) -> bytes:
        """The server secret; on SQLite without one, a random secret kept in ``<database>.secret``."""
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise ConfigError("SUPERVISE_SECRET_KEY must be at least 32 characters long")
            return self.secret_key.encode()
        if not self.is_sqlite:
            raise ConfigError(
                "SUPERVISE_SECRET_KEY is required with PostgreSQL: every worker must share it "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        database = make_url(self.url).database
        if not database or database == ":memory:":
            raise ConfigError("SUPERVISE_SECRET_KEY is required with an in-memory SQLite database")
        path = Path(database + ".secret")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


def normalise_database_url(url: str) -> str:
    """Give plain ``sqlite://`` and ``postgresql://`` URLs the async driver we ship."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    if url.startswith(("postgresql:", "postgres:")):
        return "postgresql+asyncpg:" + url.split(":", 1)[1]
    if url.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
        return url
    raise ConfigError(
        f"SUPERVISE_DATABASE_URL must be a sqlite:// or postgresql:// URL (async drivers aiosqlite, asyncpg); "
        f"got {make_url(url).drivername!r}"
    )
