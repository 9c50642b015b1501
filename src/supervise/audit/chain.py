"""The hash chain: what an event's hash covers, and how a group of new events is chained onto a head.

Pure: every way of appending (``repository.append``, ``append_after`` and ``append_sqlite``) chains with
:func:`chain`, and :func:`supervise.audit.service.verify_chain` recomputes :func:`event_hash` from the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass

import msgspec

from supervise.audit.tables import AuditEvent
from supervise.auth.principal import Principal
from supervise.db import new_id

__all__ = ["COLUMNS", "GENESIS_HASH", "NewEvent", "chain", "checkpoint_mac", "event_hash", "new_event"]

GENESIS_HASH = "0" * 64
COLUMNS = [c.key for c in AuditEvent.__table__.columns]
"""The audit table's columns, in its order: every append writes all of them."""


@dataclass(slots=True)
class NewEvent:
    """An event not yet chained: ``seq``, ``prev_hash`` and ``hash`` are set when it is appended."""

    id: uuid.UUID
    org_id: uuid.UUID
    created_at: dt.datetime
    actor_member_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    outcome: str
    request_id: str | None
    source_address: str | None
    count: int = 1
    token_issuer: str | None = None
    token_subject: str | None = None
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


def new_event(
    principal: Principal | None,
    org: uuid.UUID,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    outcome: str,
    at: dt.datetime,
) -> NewEvent:
    return NewEvent(
        id=new_id(),
        org_id=org,
        created_at=at,
        actor_member_id=principal.member_id if principal else None,
        api_key_id=principal.api_key_id if principal else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        request_id=principal.request_id if principal else None,
        source_address=principal.source_address if principal else None,
        token_issuer=principal.token_issuer if principal else None,
        token_subject=principal.token_subject if principal else None,
    )


def event_hash(event: AuditEvent | NewEvent) -> str:
    """SHA-256 of the event's fields, as the README describes it. ``count`` is hashed, last, only when it is
    not 1, and the access token's issuer and subject (after ``count``, then always hashed) only when there is an
    issuer: every event written before they existed had a count of 1 and no token, and their hashes stay what
    they were."""
    fields: list[object] = [
        str(event.org_id),
        event.seq,
        event.created_at.isoformat(),
        str(event.actor_member_id) if event.actor_member_id else None,
        str(event.api_key_id) if event.api_key_id else None,
        event.action,
        event.resource_type,
        str(event.resource_id) if event.resource_id else None,
        event.outcome,
        event.request_id,
        event.source_address,
        event.prev_hash,
    ]
    if event.token_issuer is not None:
        fields += [event.count, event.token_issuer, event.token_subject]
    elif event.count != 1:
        fields.append(event.count)
    return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()


def checkpoint_mac(secret: bytes, org_id: uuid.UUID, seq: int, hash: str) -> str:
    """The signature of a chain's head: lowercase hex HMAC-SHA256, under the server secret, of
    ``supervise-audit-checkpoint:<org id>:<seq>:<hash>`` (the prefix keeps it apart from the secret's other
    uses)."""
    message = f"supervise-audit-checkpoint:{org_id}:{seq}:{hash}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def chain(events: list[NewEvent], head: tuple[int, str] | None) -> None:
    """Number and hash ``events`` (all of one organisation) in order, after ``head`` (``None``: the first)."""
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    for event in events:
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = event_hash(event)
        seq, prev_hash = seq + 1, event.hash
