"""Parameters and response headers that many operations share, declared once for the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter, QueryParameter

from supervise import problems
from supervise.auth.principal import Principal
from supervise.bodies import YEAR_PATTERN
from supervise.errors import FieldError, Unprocessable
from supervise.pagination import MAX_LIMIT, PageRequest

__all__ = [
    "ETAG",
    "LOCATION",
    "Cursor",
    "IdempotencyKey",
    "IfMatch",
    "Instant",
    "Limit",
    "MemberRef",
    "RubricFilter",
    "UpdatedSince",
    "instant",
    "member",
    "page",
]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1 to 200).")]
Cursor = Annotated[
    str | None,
    QueryParameter(min_length=1, max_length=512, description="``next_cursor`` of the previous page, unchanged."),
]
LOCATION = ResponseHeader(name="Location", description="URL of the created resource.", documentation_only=True)
ETAG = ResponseHeader(name="ETag", description="Version of the resource, for If-Match.", documentation_only=True)

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeat a POST safely: the same key and body within 24 hours replays the first response; "
        "the same key with another body is 422.",
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        min_length=1,
        max_length=512,
        description="The ETag of the version being changed (or `*`). Missing or blank: 428 where required, no "
        "precondition where optional; stale (or not an entity tag, which matches nothing): 412.",
    ),
]

RubricFilter = Annotated[
    str | None, QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="Only this rubric (key).")
]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MemberRef = Annotated[
    str | None,
    QueryParameter(pattern=rf"^(me|{_UUID})$", description="A member id, or `me` for the caller."),
]


def member(value: str | None, principal: Principal) -> uuid.UUID | None:
    """A :data:`MemberRef` as a member id."""
    if value is None:
        return None
    return principal.member_id if value == "me" else uuid.UUID(value)


def page(principal: Principal, scope: str, cursor: str | None, limit: int) -> PageRequest:
    """One page of a list; ``scope`` names the list and its filters (a cursor only works for the list it came
    from)."""
    return PageRequest(org_id=principal.org_id, scope=scope, cursor=cursor, limit=limit)


# Query timestamps are RFC 3339 with an offset. Declared as patterned strings: a datetime parameter would
# also take a bare number as a Unix time, which the document does not promise.
_RFC3339 = "^" + YEAR_PATTERN + r"-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def Instant(description: str) -> QueryParameter:
    return QueryParameter(
        pattern=_RFC3339,
        max_length=40,
        description=f"{description} RFC 3339, with an offset; a year from 1900 to 2199.",
    )


UpdatedSince = Annotated[
    str | None,
    Instant(
        description="Only what changed at or after this time, oldest change first: to sync the list, walk every "
        "page, then ask again from the `Date` of the walk's first response less 60 seconds (README: \"Syncing "
        'lists with updated_since"). What only became visible to you, unchanged, is not a change.'
    ),
]


def instant(value: str | None, field: str) -> dt.datetime | None:
    """An :func:`Instant` query parameter's value as a time."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        # It matches the pattern but names no real instant (month 13): the document cannot say that, so 422.
        raise Unprocessable(
            problems.INVALID_VALUE, f"{field} is not a valid time.", errors=[FieldError(field, "not a valid time")]
        ) from None
    return parsed
