"""Named queries over remembered POST responses."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import delete, select, text

from supervise.db import Tx
from supervise.idempotency.tables import IdempotencyRecord

__all__ = ["forget_expired_and", "lock", "remembered"]


async def lock(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID, key: str) -> None:
    """Serialise requests carrying one member's key until commit (PostgreSQL; SQLite's write transaction
    already does)."""
    if tx.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"idem" + org_id.bytes + member_id.bytes + key.encode())
        await tx.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest.digest()[:8], "big", signed=True)}
        )


async def remembered(
    tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID, key: str, since: dt.datetime
) -> IdempotencyRecord | None:
    return await tx.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.org_id == org_id,
            IdempotencyRecord.member_id == member_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at > since,
        )
    )


async def forget_expired_and(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID, key: str, before: dt.datetime) -> None:
    """Forget the organisation's records older than ``before``, and this member's record of ``key``."""
    await tx.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.org_id == org_id,
            (IdempotencyRecord.created_at <= before)
            | ((IdempotencyRecord.member_id == member_id) & (IdempotencyRecord.key == key)),
        )
    )
