"""Checking an identity provider's access token (a JWT, RFC 9068): its signature with the provider's public key,
an algorithm from :data:`ALGORITHMS` only (never ``none``, never an HMAC, whose "secret" would be the public
key), ``exp`` and ``nbf`` with a small leeway, ``iss`` and ``aud``. PyJWT does the checking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from supervise.auth.jwks import Jwk

__all__ = ["ALGORITHMS", "Unverified", "looks_like_jwt", "peek", "verify"]

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
"""Public-key signatures only."""
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
MAX_TOKEN_CHARS = 16_384


@dataclass(frozen=True, slots=True)
class Unverified:
    """What a token says of itself before its signature is checked: enough to find who should check it."""

    algorithm: str
    kid: str | None
    issuer: str
    audiences: tuple[str, ...]


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: an access token rather than an API key."""
    return token.count(".") == 2 and len(token) <= MAX_TOKEN_CHARS


def peek(token: str) -> Unverified | None:
    """The token's algorithm, key id, issuer and audiences, unverified; ``None`` if it is malformed or its
    algorithm is not one we accept."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    algorithm, kid, issuer, audience = header.get("alg"), header.get("kid"), claims.get("iss"), claims.get("aud")
    if algorithm not in ALGORITHMS or not isinstance(issuer, str) or (kid is not None and not isinstance(kid, str)):
        return None
    audiences = (audience,) if isinstance(audience, str) else tuple(a for a in audience or () if isinstance(a, str))
    return Unverified(algorithm, kid, issuer, audiences)


def verify(token: str, jwk: Jwk, algorithm: str, *, issuer: str, audience: str, leeway: int) -> dict[str, Any] | None:
    """The token's claims, if ``jwk`` signed it with ``algorithm`` and it is current, from ``issuer`` and for
    ``audience``, with a string ``sub``; else ``None``."""
    if algorithm not in ALGORITHMS or jwk.get("alg", algorithm) != algorithm or not _fits(jwk, algorithm):
        return None
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iss", "aud", "sub"], "enforce_minimum_key_length": True},
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return claims if isinstance(claims.get("sub"), str) and claims["sub"] else None


def _fits(jwk: Jwk, algorithm: str) -> bool:
    """Whether ``jwk`` is a key of the type (and curve) ``algorithm`` signs with."""
    if algorithm == "EdDSA":
        return jwk.get("kty") == "OKP" and jwk.get("crv") in ("Ed25519", "Ed448")
    if algorithm.startswith("ES"):
        return jwk.get("kty") == "EC" and jwk.get("crv") == _CURVE[algorithm]
    return jwk.get("kty") == "RSA"
