"""Named queries over cases and recordings, and over who may see a therapist's sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.members.tables import SupervisionLink
from supervise.recordings.tables import Case, Recording
from supervise.reviews.tables import Review, ReviewRequest

__all__ = [
    "consent_holds",
    "get_case",
    "get_recording",
    "recording_by_external_id",
    "select_cases",
    "select_recordings",
    "supervises",
    "visible_recordings",
]


async def supervises(tx: AsyncSession, org_id: uuid.UUID, supervisor_id: uuid.UUID, supervisee_id: uuid.UUID) -> bool:
    link = await tx.scalar(
        select(SupervisionLink.id).where(
            SupervisionLink.org_id == org_id,
            SupervisionLink.supervisor_id == supervisor_id,
            SupervisionLink.supervisee_id == supervisee_id,
        )
    )
    return link is not None


def _visible_therapists(org_id: uuid.UUID, viewer: uuid.UUID) -> Select[uuid.UUID]:
    """The viewer and the viewer's supervisees."""
    return select(SupervisionLink.supervisee_id).where(
        SupervisionLink.org_id == org_id, SupervisionLink.supervisor_id == viewer
    )


async def get_case(tx: AsyncSession, org_id: uuid.UUID, case_id: uuid.UUID) -> Case | None:
    return await tx.scalar(select(Case).where(Case.org_id == org_id, Case.id == case_id))


def select_cases(org_id: uuid.UUID, *, viewer: uuid.UUID | None, therapist_id: uuid.UUID | None) -> Select[Case]:
    stmt = select(Case).where(Case.org_id == org_id)
    if viewer is not None:
        stmt = stmt.where(or_(Case.therapist_id == viewer, Case.therapist_id.in_(_visible_therapists(org_id, viewer))))
    if therapist_id is not None:
        stmt = stmt.where(Case.therapist_id == therapist_id)
    return stmt


def consent_holds(now: dt.datetime) -> ColumnElement[bool]:
    """The recording's consent holds at ``now``: not withdrawn, not expired (the SQL of ``consent_active``)."""
    return and_(
        Recording.consent_withdrawn_at.is_(None),
        or_(Recording.consent_expires_at.is_(None), Recording.consent_expires_at > now),
    )


def visible_recordings(org_id: uuid.UUID, viewer: uuid.UUID | None, now: dt.datetime) -> ColumnElement[bool]:
    """Recordings ``viewer`` may see (``None``: an admin, who sees all): their own sessions; and, while consent
    for supervision use lasts, their supervisees' sessions and those they were asked to review or reviewed."""
    if viewer is None:
        return true()
    consent = consent_holds(now)
    reviewing = or_(
        exists().where(
            ReviewRequest.org_id == org_id,
            ReviewRequest.recording_id == Recording.id,
            ReviewRequest.reviewer_id == viewer,
            ReviewRequest.state != "cancelled",
        ),
        exists().where(Review.org_id == org_id, Review.recording_id == Recording.id, Review.reviewer_id == viewer),
    )
    return or_(
        Recording.therapist_id == viewer,
        and_(consent, or_(Recording.therapist_id.in_(_visible_therapists(org_id, viewer)), reviewing)),
    )


async def get_recording(
    tx: AsyncSession, org_id: uuid.UUID, recording_id: uuid.UUID, *, viewer: uuid.UUID | None, now: dt.datetime
) -> Recording | None:
    return await tx.scalar(
        select(Recording).where(
            Recording.org_id == org_id, Recording.id == recording_id, visible_recordings(org_id, viewer, now)
        )
    )


async def recording_by_external_id(tx: AsyncSession, org_id: uuid.UUID, external_id: str) -> Recording | None:
    return await tx.scalar(select(Recording).where(Recording.org_id == org_id, Recording.external_id == external_id))


def select_recordings(
    org_id: uuid.UUID,
    *,
    viewer: uuid.UUID | None,
    now: dt.datetime,
    therapist_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
    occurred_from: dt.datetime | None,
    occurred_to: dt.datetime | None,
    updated_since: dt.datetime | None,
) -> Select[Recording]:
    stmt = select(Recording).where(Recording.org_id == org_id, visible_recordings(org_id, viewer, now))
    if therapist_id is not None:
        stmt = stmt.where(Recording.therapist_id == therapist_id)
    if case_id is not None:
        stmt = stmt.where(Recording.case_id == case_id)
    if occurred_from is not None:
        stmt = stmt.where(Recording.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(Recording.occurred_at < occurred_to)
    if updated_since is not None:
        stmt = stmt.where(Recording.updated_at >= updated_since)
    return stmt
