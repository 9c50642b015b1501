"""Named queries over rubric snapshots."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.rubrics.tables import RubricSnapshot

__all__ = ["all_snapshots", "get_snapshot", "snapshot_versions"]


async def get_snapshot(tx: AsyncSession, key: str, version: str) -> RubricSnapshot | None:
    return await tx.get(RubricSnapshot, (key, version))


async def all_snapshots(tx: AsyncSession) -> list[RubricSnapshot]:
    return list((await tx.scalars(select(RubricSnapshot))).all())


async def snapshot_versions(tx: AsyncSession, key: str) -> list[str]:
    return list((await tx.scalars(select(RubricSnapshot.version).where(RubricSnapshot.key == key))).all())
