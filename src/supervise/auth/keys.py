"""API key format and hashing: ``svk_<key id>_<secret>``, stored as HMAC-SHA256 under the server secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

__all__ = ["KEY_PREFIX", "ApiKeyHasher", "ParsedKey", "display_prefix", "parse_key"]

KEY_PREFIX = "svk"
SECRET_BYTES = 32  # 256 bits


class ParsedKey:
    __slots__ = ("key_id", "secret")

    def __init__(self, key_id: uuid.UUID, secret: str) -> None:
        self.key_id = key_id
        self.secret = secret


def display_prefix(key_id: uuid.UUID) -> str:
    """The public part of a key: enough to recognise it in a list, useless to authenticate."""
    return f"{KEY_PREFIX}_{key_id.hex}"


def parse_key(raw: str) -> ParsedKey | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 32 or len(parts[2]) < 40:
        return None
    try:
        key_id = uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    return ParsedKey(key_id, parts[2])


class ApiKeyHasher:
    def __init__(self, server_secret: bytes) -> None:
        self._pepper = hashlib.sha256(b"supervise/api-key\x00" + server_secret).digest()

    def new_secret(self) -> str:
        return secrets.token_urlsafe(SECRET_BYTES)

    def full_key(self, key_id: uuid.UUID, secret: str) -> str:
        return f"{display_prefix(key_id)}_{secret}"

    def hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()
