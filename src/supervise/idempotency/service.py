"""Replaying POST responses for a repeated ``Idempotency-Key``.

Same key and same request: the first response, replayed (``Idempotent-Replayed: true``). Same key and a
different request: 422. Keys are remembered per member for ``idempotency_window_hours`` (24 h by default). A duplicate
sent while the first is still running waits for it (a per-key lock) and then gets its response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.errors import Conflict, FieldError, Unprocessable
from supervise.idempotency import repository
from supervise.idempotency.tables import IdempotencyRecord

__all__ = ["StoredResponse", "fingerprint", "run_once"]


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    location: str | None
    replayed: bool = False
    remembered_body: bytes | None = None
    """What to keep for replays when it must differ from ``body`` (secrets are never stored)."""


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b"\x00" + path.encode() + b"\x00" + body).hexdigest()


async def run_once(
    tx: Tx,
    principal: Principal,
    key: str | None,
    request_hash: str,
    window: dt.timedelta,
    create: Callable[[], Awaitable[StoredResponse]],
) -> StoredResponse:
    if key is None:
        return await create()
    await repository.lock(tx, principal.org_id, principal.member_id, key)
    now = utcnow()
    record = await repository.remembered(tx, principal.org_id, principal.member_id, key, now - window)
    if record is not None:
        if record.request_hash != request_hash:
            raise Unprocessable(
                problems.IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was used with a different request; use a new key for a new request.",
                errors=[FieldError("Idempotency-Key", "reused with a different request")],
            )
        audit.record_read(tx, principal, "idempotency.replay", "request", None)
        return StoredResponse(record.status_code, record.body, record.location, replayed=True)
    response = await create()
    await repository.forget_expired_and(tx, principal.org_id, principal.member_id, key, now - window)
    remembered = IdempotencyRecord(
        org_id=principal.org_id,
        member_id=principal.member_id,
        key=key,
        api_key_id=principal.api_key_id,
        request_hash=request_hash,
        status_code=response.status_code,
        body=response.remembered_body if response.remembered_body is not None else response.body,
        location=response.location,
        created_at=now,
    )
    await db.insert(
        tx,
        remembered,
        conflict=Conflict(problems.IDEMPOTENCY_KEY_IN_USE, "A request with this Idempotency-Key is being made; retry."),
    )
    return response
