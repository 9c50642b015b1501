"""Named queries over rubric snapshots."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.rubrics.tables import RubricSnapshot

__all__ = ["add_snapshot_once", "all_snapshots", "get_snapshot"]


async def get_snapshot(tx: AsyncSession, key: str, version: str) -> RubricSnapshot | None:
    return await tx.get(RubricSnapshot, (key, version))


async def all_snapshots(tx: AsyncSession) -> list[RubricSnapshot]:
    return list((await tx.scalars(select(RubricSnapshot))).all())


async def add_snapshot_once(tx: AsyncSession, snapshot: RubricSnapshot) -> None:
    """Store ``snapshot`` unless one of its ``(key, version)`` exists (another request may take it first)."""
    try:
        async with tx.begin_nested():
            tx.add(snapshot)
    except IntegrityError:
        pass  # the definition is the same installed one
