"""Identity providers' signing keys (JWKS): fetched over https with a timeout, cached, and fetched again when a
token names a key id the cache lacks (a provider rotates its keys), at most once per
``SUPERVISE_OIDC_JWKS_REFETCH_SECONDS`` per URL, so tokens with made-up key ids cannot make us hammer it.

A provider registered without a key URL is asked for it through its discovery document
(``<issuer>/.well-known/openid-configuration``), whose ``issuer`` must be the registered one exactly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from supervise.clock import utcnow
from supervise.config import Settings

__all__ = ["Jwk", "KeySets", "url_problem"]

_log = logging.getLogger("supervise.auth")

Jwk = dict[str, Any]
"""One JSON Web Key, as the provider published it."""

MAX_DOCUMENT_BYTES = 256 * 1024
"""A key set or discovery document larger than this is refused (real ones are a few kilobytes)."""
SIGNING_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
"""Public-key types only: a symmetric (``oct``) key in a published set is never used."""
LOOPBACK_NAMES = frozenset({"localhost"})


def url_problem(url: str, *, allow_http_loopback: bool) -> str | None:
    """Why ``url`` may not be an issuer or key URL, or ``None`` when it may: ``https://`` with a host, and no
    loopback, link-local or unspecified address unless ``allow_http_loopback`` (then loopback may be plain
    ``http://`` too)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return "is not a URL"
    if not host or parts.username is not None or parts.fragment:
        return "needs a host, and no user name or fragment"
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    loopback = host.lower() in LOOPBACK_NAMES or (address is not None and address.is_loopback)
    if address is not None and (address.is_link_local or address.is_unspecified or address.is_multicast):
        return "may not be a link-local, unspecified or multicast address"
    if loopback and not allow_http_loopback:
        return "may not be a loopback address (SUPERVISE_OIDC_ALLOW_HTTP_LOOPBACK allows it for tests)"
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return None
    return "must be https://"


class _FetchError(Exception):
    pass


@dataclass
class _Held:
    """What one URL gave us: its keys by id (or its discovered key URL), when, and when we last tried."""

    keys: dict[str, Jwk] = field(default_factory=dict)
    jwks_uri: str | None = None
    fetched_at: dt.datetime | None = None
    tried_at: dt.datetime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeySets:
    """One per application: the key sets and discovery documents fetched so far, by URL."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._refetch = dt.timedelta(seconds=settings.oidc_jwks_refetch_seconds)
        self._max_age = dt.timedelta(seconds=settings.oidc_jwks_max_age_seconds)
        self._client = httpx.AsyncClient(
            timeout=settings.oidc_http_timeout_seconds, follow_redirects=False, transport=transport
        )
        self._held: dict[str, _Held] = {}

    def cached(self, issuer: str, jwks_uri: str | None, kid: str | None) -> Jwk | None:
        """The key ``kid`` of the provider if it is held and fresh: :meth:`key` without fetching anything."""
        if jwks_uri is None:
            discovered = self._held.get(_discovery_url(issuer))
            jwks_uri = discovered.jwks_uri if discovered is not None and self._fresh(discovered) else None
        held = self._held.get(jwks_uri) if jwks_uri is not None else None
        return _find(held, kid) if held is not None and self._fresh(held) else None

    async def key(self, issuer: str, jwks_uri: str | None, kid: str | None) -> Jwk | None:
        """The key ``kid`` of the provider (its only key when the token names none), or ``None``: unknown even
        after fetching the set again (or fetching it failed, or was done too recently to do again)."""
        uri = jwks_uri or await self._discovered(issuer)
        if uri is None:
            return None
        held = await self._current(uri, lambda held: _find(held, kid) is not None)
        return _find(held, kid) if held is not None else None

    async def _discovered(self, issuer: str) -> str | None:
        held = await self._current(_discovery_url(issuer), lambda held: held.jwks_uri is not None)
        return held.jwks_uri if held is not None else None

    async def _current(self, url: str, has: Callable[[_Held], bool]) -> _Held | None:
        """What ``url`` holds once it has what ``has`` looks for: fetched again if not (or if too old), unless it
        was tried within the refetch interval. ``None`` when nothing fresh enough is held."""
        held = self._held.setdefault(url, _Held())
        if self._fresh(held) and has(held):
            return held
        async with held.lock:  # one fetch per URL at a time; the others wait for it and use what it got
            now = utcnow()
            if not (self._fresh(held) and has(held)) and (
                held.tried_at is None or now - held.tried_at >= self._refetch
            ):
                held.tried_at = now
                try:
                    await self._fetch(url, held)
                    held.fetched_at = now
                except _FetchError as exc:
                    _log.warning("could not fetch %s: %s", url, exc)
        return held if self._fresh(held) else None

    def _fresh(self, held: _Held) -> bool:
        return held.fetched_at is not None and utcnow() - held.fetched_at < self._max_age

    async def _fetch(self, url: str, held: _Held) -> None:
        document = await self._get_json(url)
        if url.endswith(_WELL_KNOWN):
            issuer = url.removesuffix(_WELL_KNOWN)
            jwks_uri = document.get("jwks_uri")
            if document.get("issuer") not in (issuer, issuer + "/"):
                raise _FetchError(f"its issuer is {document.get('issuer')!r}, not {issuer!r}")
            if not isinstance(jwks_uri, str) or url_problem(jwks_uri, allow_http_loopback=self._loopback):
                raise _FetchError("its jwks_uri is missing or not an https URL")
            held.jwks_uri = jwks_uri
            return
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise _FetchError("no 'keys' list")
        held.keys = {
            str(jwk.get("kid", "")): jwk
            for jwk in keys
            if isinstance(jwk, dict) and jwk.get("kty") in SIGNING_KEY_TYPES and jwk.get("use", "sig") == "sig"
        }

    @property
    def _loopback(self) -> bool:
        return self._settings.oidc_allow_http_loopback

    async def _get_json(self, url: str) -> dict[str, Any]:
        problem = url_problem(url, allow_http_loopback=self._loopback)
        if problem is not None:
            raise _FetchError(f"the URL {problem}")
        body = bytearray()
        try:
            async with self._client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise _FetchError(f"HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise _FetchError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise _FetchError(type(exc).__name__) from None
        try:
            document = msgspec.json.decode(bytes(body))
        except msgspec.DecodeError:
            raise _FetchError("not JSON") from None
        if not isinstance(document, dict):
            raise _FetchError("not a JSON object")
        return document

    async def close(self) -> None:
        await self._client.aclose()


_WELL_KNOWN = "/.well-known/openid-configuration"


def _discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + _WELL_KNOWN


def _find(held: _Held, kid: str | None) -> Jwk | None:
    if kid is None:  # a token without a key id may use the provider's only key
        return next(iter(held.keys.values())) if len(held.keys) == 1 else None
    return held.keys.get(kid)
