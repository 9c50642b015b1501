"""Where a webhook may be sent: https, to public addresses only, checked at registration and again at every
attempt (DNS can change between the two). ``SUPERVISE_WEBHOOK_ALLOW_LOOPBACK`` lets loopback addresses in,
over http too, for local development and tests; private, link-local and other non-public addresses never."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Target", "UnsafeAddress", "check_syntax", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT = 3.0


class UnsafeAddress(Exception):
    """Why a URL may not be a webhook's target."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL checked, with the address it is to be reached at (connect there, never resolve again)."""

    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress

    @property
    def connect_url(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_syntax(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path with query)`` of an absolute http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeAddress("must be an https URL")
    if not parts.hostname:
        raise UnsafeAddress("must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeAddress("must not carry credentials")
    if parts.fragment:
        raise UnsafeAddress("must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def _allowed(address: IPAddress, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


async def resolve(url: str, *, allow_loopback: bool) -> Target:
    """Check ``url`` and resolve its host: every address it resolves to must be allowed (one bad address and an
    attacker's DNS could choose it), and plain http only to loopback when that is allowed."""
    scheme, host, port, path = check_syntax(url)
    if scheme == "http" and not allow_loopback:
        raise UnsafeAddress("must be an https URL")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            found = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT
            )
        except (OSError, TimeoutError):
            plain = scheme == "http"  # plain http is only ever for loopback, whatever the name
            raise UnsafeAddress("must be an https URL" if plain else f"the host {host} does not resolve") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        if not addresses:
            raise UnsafeAddress(f"the host {host} does not resolve")
    for address in addresses:
        if not _allowed(address, allow_loopback):
            raise UnsafeAddress(f"resolves to {address}, a private, loopback, link-local or reserved address")
    if scheme == "http" and not (allow_loopback and all(a.is_loopback for a in addresses)):
        raise UnsafeAddress("must be an https URL")
    return Target(scheme, host, port, path, addresses[0])
