"""The query the team view's complementary suppression needs: per cell, the sessions in the months whose
session rollups hold too few to be shown on their own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select

from supervise.db import Tx
from supervise.scores.tables import RollupMonth

__all__ = ["Withheld", "withheld_months"]


class Withheld(NamedTuple):
    therapist_id: uuid.UUID
    kind: str
    measure: str
    sessions: int
    """In the months with 1 to ``below`` - 1 sessions of this cell."""


async def withheld_months(
    tx: Tx,
    org_id: uuid.UUID,
    therapist_ids: Sequence[uuid.UUID] | None,
    rubric_key: str,
    rubric_version: str,
    session_set: str,
    below: int,
) -> list[Withheld]:
    """Per therapist and measure, the sessions in the months (session rollups of ``session_set``) holding
    fewer than ``below``; cells without such a month are left out."""
    keys = (RollupMonth.therapist_id, RollupMonth.measure_kind, RollupMonth.measure)
    stmt = select(*keys, func.sum(RollupMonth.n)).where(
        RollupMonth.org_id == org_id,
        RollupMonth.rubric_key == rubric_key,
        RollupMonth.rubric_version == rubric_version,
        RollupMonth.role == session_set,
        RollupMonth.n < below,
    )
    if therapist_ids is not None:
        stmt = stmt.where(RollupMonth.therapist_id.in_(therapist_ids))
    rows = await tx.execute(stmt.group_by(*keys))
    return [Withheld(therapist, kind, measure, int(n)) for therapist, kind, measure, n in rows]
