"""Keyset pagination over ``(created_at, id)``: stable under concurrent inserts."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from supervise.http import CursorCodec

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "PageRequest", "fetch_page"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


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


async def fetch_page(
    tx: AsyncSession,
    stmt: Select[T],
    created_at: InstrumentedAttribute[dt.datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    page: PageRequest,
    cursors: CursorCodec,
    *,
    descending: bool = False,
) -> Page[T]:
    if page.cursor:
        after_at, after_id = cursors.decode(page.cursor, page.org_id, page.scope)
        if descending:
            stmt = stmt.where(or_(created_at < after_at, and_(created_at == after_at, row_id < after_id)))
        else:
            stmt = stmt.where(or_(created_at > after_at, and_(created_at == after_at, row_id > after_id)))
    order: tuple[Any, ...] = (created_at.desc(), row_id.desc()) if descending else (created_at, row_id)
    rows = list((await tx.scalars(stmt.order_by(*order).limit(page.limit + 1))).all())
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last: Any = rows[-1]
        next_cursor = cursors.encode(page.org_id, page.scope, last.created_at, last.id)
    return Page(rows, next_cursor)
