"""Members and supervision links in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from supervise.auth.principal import Role

__all__ = [
    "MemberCreate",
    "MemberOut",
    "MemberPage",
    "MemberUpdate",
    "OrganisationOut",
    "OrganisationUpdate",
    "SupervisionLinkCreate",
    "SupervisionLinkOut",
    "SupervisionLinkPage",
]

# No control characters (PostgreSQL refuses NUL in text) and at least one visible character. Patterns avoid
# \s and \S: Python and JSON Schema (ECMA-262) disagree on what counts as white space.
Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$",
        examples=["Dr Ada Okafor"],
    ),
]
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+$",
        examples=["ada.okafor@clinic.example"],
    ),
]
Roles = Annotated[list[Role], msgspec.Meta(max_length=3, examples=[["supervisor", "clinician"]])]


class MemberCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    email: Email | None = None
    """Required for a person; an integration (a clinic system's service account) has none."""
    kind: Literal["person", "integration"] = "person"
    roles: Roles = msgspec.field(default_factory=list)


class MemberUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields left out (or null) stay as they are. Only an admin may change roles or deactivate."""

    name: Name | None = None
    email: Email | None = None
    roles: Roles | None = None
    active: bool | None = None


class MemberOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: Literal["person", "integration"]
    name: str
    email: str | None
    roles: list[Role]
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class MemberPage(msgspec.Struct, kw_only=True):
    items: list[MemberOut]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next page; null on the last page."""
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class SupervisionLinkCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    supervisor_id: uuid.UUID
    supervisee_id: uuid.UUID


class SupervisionLinkOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    supervisor_id: uuid.UUID
    supervisee_id: uuid.UUID
    created_at: dt.datetime


class SupervisionLinkPage(msgspec.Struct, kw_only=True):
    items: list[SupervisionLinkOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


TimeZone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$", examples=["Europe/Berlin"])
]


class OrganisationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    time_zone: str
    """IANA time zone: a session counts in the day, week and month (series, team view, date ranges) it
    occurred in here."""
    client_ratings_to_peers: bool
    """Whether a peer reviewer who submitted their own review of a session sees its client ratings too. Off
    (the default): client ratings are seen by the therapist, their supervisors and admins only."""
    version: int
    created_at: dt.datetime


class OrganisationUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The organisation's settings (admins, under ``If-Match``); what is left out stays as it is."""

    name: Name | None = None
    time_zone: TimeZone | None = None
    """Can be changed only while no review of the organisation has been scored: the rollups are kept by
    local day, and a change would move sessions between days, weeks and months."""
    client_ratings_to_peers: bool | None = None
