"""Keyset pagination over ``(created_at, id)``: stable under concurrent inserts; and, for a list asked what
changed since a time (:func:`changed_since`), over ``(updated_at, id)``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from supervise import problems
from supervise.errors import DomainError, FieldError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "CursorCodec", "Page", "PageRequest", "changed_since", "fetch_page"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


class CursorCodec:
    """Opaque keyset cursors, signed and bound to the organisation and the list's filters."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"supervise/cursor\x00" + secret).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, org_id: uuid.UUID, scope: str, created_at: dt.datetime, row_id: uuid.UUID) -> str:
        payload = msgspec.json.encode([str(org_id), scope, created_at.isoformat(), str(row_id)])
        token = payload + self._mac(payload)
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, token: str, org_id: uuid.UUID, scope: str) -> tuple[dt.datetime, uuid.UUID]:
        invalid = DomainError(
            problems.INVALID_CURSOR,
            "The cursor is not valid for this list: pass back next_cursor unchanged, with the same filters.",
            errors=[FieldError("cursor", "invalid or tampered cursor")],
        )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        payload, mac = raw[:-16], raw[-16:]
        if len(raw) <= 16 or not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid
        try:
            org, bound_scope, created_at, row_id = msgspec.json.decode(payload, type=tuple[str, str, str, str])
            if org != str(org_id) or bound_scope != scope:
                raise invalid
            return dt.datetime.fromisoformat(created_at), uuid.UUID(row_id)
        except (msgspec.DecodeError, ValueError):
            raise invalid from None


@dataclass(frozen=True)
class PageRequest:
    org_id: uuid.UUID
    scope: str
    """The list and its filters, e.g. ``members?role=admin``: a cursor only works for the list it came from."""
    cursor: str | None
    limit: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def changed_since(
    stmt: Select[T],
    created_at: InstrumentedAttribute[dt.datetime],
    updated_at: InstrumentedAttribute[dt.datetime],
    since: dt.datetime | None,
) -> tuple[Select[T], InstrumentedAttribute[dt.datetime]]:
    """A list's statement and the column it pages by: with ``since`` (``updated_since``), only the rows changed
    at or after it, oldest change first, so that a row changed during a walk comes again further on instead of
    being passed over; without, every row, by ``created_at``. (What a client must add to never miss a change
    that committed late is in the README: "Syncing lists with updated_since".)"""
    if since is None:
        return stmt, created_at
    return stmt.where(updated_at >= since), updated_at


async def fetch_page(
    tx: AsyncSession,
    stmt: Select[T],
    created_at: InstrumentedAttribute[dt.datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    page: PageRequest,
    cursors: CursorCodec,
    *,
    descending: bool = False,
    params: Mapping[str, Any] | None = None,
) -> Page[T]:
    """One page of ``stmt`` in ``(created_at, row_id)`` order (or any other time column's, as
    :func:`changed_since` gives); ``params`` for a statement with bound parameters."""
    if page.cursor:
        after_at, after_id = cursors.decode(page.cursor, page.org_id, page.scope)
        if descending:
            stmt = stmt.where(or_(created_at < after_at, and_(created_at == after_at, row_id < after_id)))
        else:
            stmt = stmt.where(or_(created_at > after_at, and_(created_at == after_at, row_id > after_id)))
    order: tuple[Any, ...] = (created_at.desc(), row_id.desc()) if descending else (created_at, row_id)
    rows = list((await tx.scalars(stmt.order_by(*order).limit(page.limit + 1), params)).all())
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last: Any = rows[-1]
        next_cursor = cursors.encode(page.org_id, page.scope, getattr(last, created_at.key), getattr(last, row_id.key))
    return Page(rows, next_cursor)
