"""Audit events out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

__all__ = ["AuditEventOut", "AuditEventPage"]


class AuditEventOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    seq: int
    """Position in the organisation's chain, from 1."""
    occurred_at: dt.datetime
    actor_member_id: uuid.UUID | None
    """Null for operator actions from the command line."""
    api_key_id: uuid.UUID | None
    key_made_by: uuid.UUID | None
    """Who made the API key this event was made with, when that is not the actor: an admin made the key for
    the actor, and could have been the one using it. Null when actors use keys they made themselves."""
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    outcome: Literal["success", "denied"]
    request_id: str | None
    source_address: str | None
    count: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            description="How many attempts this event stands for: 1, or, for a refused attempt repeated within a "
            "window (the same key, action, resource and address), the number of repeats; occurred_at, request_id "
            "and source_address are then the last one's.",
        ),
    ]
    token_issuer: str | None
    """The identity provider whose access token the actor signed in with; null with an API key."""
    token_subject: str | None
    """That token's subject (``sub``)."""
    prev_hash: str
    hash: str
    """SHA-256 over this event's fields and ``prev_hash``: a changed or removed event breaks the chain."""


class AuditEventPage(msgspec.Struct, kw_only=True):
    items: list[AuditEventOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""
