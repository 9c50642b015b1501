"""Named queries over what uses one rubric version, in every organisation: the rows ``supervise rubrics release``
counts, and the drafts it discards.

Installation-wide on purpose, like the snapshots: releasing a version is an operator's act on the deployment's
database, not any organisation's request.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, and_, delete, func, or_, select

from supervise.client_ratings.tables import ClientForm, ClientRating
from supervise.db import Tx, affected
from supervise.members.tables import Organisation
from supervise.reviews.tables import Annotation, Review, ReviewRequest
from supervise.rubrics.tables import RubricSnapshot, UsesRubric
from supervise.scores.tables import ReviewScore

__all__ = [
    "client_ratings",
    "delete_drafts",
    "delete_snapshot",
    "drafts",
    "organisation_names",
    "pending_or_used_forms",
    "requests_not_cancelled",
    "scores",
    "submitted_reviews",
]


def _of(table: type[UsesRubric], key: str, version: str) -> ColumnElement[bool]:
    return and_(table.rubric_key == key, table.rubric_version == version)


async def _count(tx: Tx, table: type[UsesRubric], key: str, version: str, *where: ColumnElement[bool]) -> int:
    return int(await tx.scalar(select(func.count()).select_from(table).where(_of(table, key, version), *where)) or 0)


async def drafts(tx: Tx, key: str, version: str, *, lock: bool) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(org_id, review_id)`` of every draft of the version; with ``lock``, locked until the transaction ends
    (a submit waits, then finds its draft gone)."""
    query = (
        select(Review.org_id, Review.id)
        .where(_of(Review, key, version), Review.state == "draft")
        .order_by(Review.org_id, Review.id)
    )
    rows = await tx.execute(query.with_for_update() if lock else query)
    return [(org_id, review_id) for org_id, review_id in rows]


async def submitted_reviews(tx: Tx, key: str, version: str) -> int:
    """Submitted (or acknowledged) reviews and amendments by members; client ratings are counted apart."""
    return await _count(tx, Review, key, version, Review.state != "draft", Review.role != "client")


async def client_ratings(tx: Tx, key: str, version: str) -> int:
    return await _count(tx, ClientRating, key, version)


async def scores(tx: Tx, key: str, version: str) -> int:
    """Stored scores (items and computed scores) of the version's results."""
    return await _count(tx, ReviewScore, key, version)


async def requests_not_cancelled(tx: Tx, key: str, version: str) -> int:
    """Review requests that are open, in progress or done: assignments that name the version."""
    return await _count(tx, ReviewRequest, key, version, ReviewRequest.state != "cancelled")


async def pending_or_used_forms(tx: Tx, key: str, version: str, now: dt.datetime) -> int:
    """Client form links a client may still complete, or did."""
    pending = and_(ClientForm.revoked_at.is_(None), ClientForm.expires_at > now)
    return await _count(tx, ClientForm, key, version, or_(ClientForm.used_at.is_not(None), pending))


async def organisation_names(tx: Tx, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await tx.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids)))
    return {org_id: name for org_id, name in rows}


async def delete_drafts(tx: Tx, org_id: uuid.UUID, review_ids: list[uuid.UUID]) -> int:
    """Delete these drafts of one organisation with their annotations; how many were still drafts."""
    await tx.execute(delete(Annotation).where(Annotation.org_id == org_id, Annotation.review_id.in_(review_ids)))
    deleted = await tx.execute(
        delete(Review)
        .where(Review.org_id == org_id, Review.id.in_(review_ids), Review.state == "draft")
        .execution_options(synchronize_session=False)
    )
    return affected(deleted)


async def delete_snapshot(tx: Tx, key: str, version: str) -> bool:
    snapshot = and_(RubricSnapshot.key == key, RubricSnapshot.version == version)
    deleted = await tx.execute(delete(RubricSnapshot).where(snapshot))
    return affected(deleted) == 1
