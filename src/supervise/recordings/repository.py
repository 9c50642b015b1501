"""Named queries over cases and recordings, and over who may see a therapist's sessions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, exists, or_, select

from supervise.db import Tx
from supervise.members.tables import SupervisionLink
from supervise.pagination import CursorCodec, Page, PageRequest, changed_since, fetch_page
from supervise.recordings.schemas import RecordingFilter
from supervise.recordings.tables import Case, Recording
from supervise.reviews.tables import Review, ReviewRequest

__all__ = [
    "case_by_ref",
    "cases_by_id",
    "cases_by_ref",
    "get_case",
    "get_recording",
    "page_cases",
    "page_recordings",
    "recording_by_external_id",
    "recordings_by_external_id",
]


def _visible_therapists(org_id: uuid.UUID, viewer: uuid.UUID) -> Select[uuid.UUID]:
    """The viewer's supervisees."""
    return select(SupervisionLink.supervisee_id).where(
        SupervisionLink.org_id == org_id, SupervisionLink.supervisor_id == viewer
    )


async def get_case(tx: Tx, org_id: uuid.UUID, case_id: uuid.UUID) -> Case | None:
    return await tx.scalar(select(Case).where(Case.org_id == org_id, Case.id == case_id))


async def cases_by_id(tx: Tx, org_id: uuid.UUID, case_ids: set[uuid.UUID]) -> dict[uuid.UUID, Case]:
    found = await tx.scalars(select(Case).where(Case.org_id == org_id, Case.id.in_(case_ids)))
    return {case.id: case for case in found}


async def cases_by_ref(
    tx: Tx, org_id: uuid.UUID, refs: set[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], Case]:
    """The cases with these ``(therapist_id, external_ref)`` pairs, by their pair."""
    if not refs:
        return {}
    found = await tx.scalars(
        select(Case).where(
            Case.org_id == org_id,
            Case.therapist_id.in_({therapist_id for therapist_id, _ in refs}),
            Case.external_ref.in_({external_ref for _, external_ref in refs}),
        )
    )
    return {pair: case for case in found if (pair := (case.therapist_id, case.external_ref)) in refs}


async def case_by_ref(tx: Tx, org_id: uuid.UUID, therapist_id: uuid.UUID, external_ref: str) -> Case | None:
    return await tx.scalar(
        select(Case).where(Case.org_id == org_id, Case.therapist_id == therapist_id, Case.external_ref == external_ref)
    )


async def page_cases(
    tx: Tx,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    viewer: uuid.UUID | None,
    therapist_id: uuid.UUID | None,
    created_since: dt.datetime | None = None,
) -> Page[Case]:
    """Cases ``viewer`` may see (``None``: an admin, who sees all): their own and their supervisees'. A case
    never changes once created, so what changed since a time is what was created since."""
    org_id = page.org_id
    stmt = select(Case).where(Case.org_id == org_id)
    if viewer is not None:
        stmt = stmt.where(or_(Case.therapist_id == viewer, Case.therapist_id.in_(_visible_therapists(org_id, viewer))))
    if therapist_id is not None:
        stmt = stmt.where(Case.therapist_id == therapist_id)
    stmt, order = changed_since(stmt, Case.created_at, Case.created_at, created_since)
    return await fetch_page(tx, stmt, order, Case.id, page, cursors)


def _visible_recordings() -> ColumnElement[bool]:
    """Recordings the member ``:viewer`` may see at ``:now``: their own sessions; and, while consent for
    supervision use lasts, their supervisees' sessions and those they were asked to review or reviewed. (Built
    once, with bound parameters: built per request, the predicate cost more than running it.)"""
    org_id: BindParameter[uuid.UUID] = bindparam("org_id")
    viewer: BindParameter[uuid.UUID] = bindparam("viewer")
    reviewing = or_(
        exists().where(
            ReviewRequest.org_id == org_id,
            ReviewRequest.recording_id == Recording.id,
            ReviewRequest.reviewer_id == viewer,
            ReviewRequest.state != "cancelled",
        ),
        exists().where(Review.org_id == org_id, Review.recording_id == Recording.id, Review.reviewer_id == viewer),
    )
    supervisees = select(SupervisionLink.supervisee_id).where(
        SupervisionLink.org_id == org_id, SupervisionLink.supervisor_id == viewer
    )
    return or_(
        Recording.therapist_id == viewer,
        and_(
            Recording.consent_holds(cast("dt.datetime", bindparam("now"))),
            or_(Recording.therapist_id.in_(supervisees), reviewing),
        ),
    )


# By whether a viewer is given (``None``: an admin, or a row another row refers to, which all may see).
_RECORDINGS = {
    False: select(Recording).where(Recording.org_id == bindparam("org_id")),
    True: select(Recording).where(Recording.org_id == bindparam("org_id"), _visible_recordings()),
}
_RECORDING_BY_ID = {seen: stmt.where(Recording.id == bindparam("recording_id")) for seen, stmt in _RECORDINGS.items()}


def _params(org_id: uuid.UUID, viewer: uuid.UUID | None, now: dt.datetime) -> dict[str, Any]:
    return {"org_id": org_id, "viewer": viewer, "now": now}


async def get_recording(
    tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, *, viewer: uuid.UUID | None, now: dt.datetime
) -> Recording | None:
    stmt = _RECORDING_BY_ID[viewer is not None]
    recording: Recording | None = await tx.scalar(stmt, {**_params(org_id, viewer, now), "recording_id": recording_id})
    return recording


async def recording_by_external_id(tx: Tx, org_id: uuid.UUID, external_id: str) -> Recording | None:
    return await tx.scalar(select(Recording).where(Recording.org_id == org_id, Recording.external_id == external_id))


async def recordings_by_external_id(tx: Tx, org_id: uuid.UUID, external_ids: set[str]) -> dict[str, Recording]:
    found = await tx.scalars(
        select(Recording).where(Recording.org_id == org_id, Recording.external_id.in_(external_ids))
    )
    return {recording.external_id: recording for recording in found if recording.external_id is not None}


async def page_recordings(
    tx: Tx,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    viewer: uuid.UUID | None,
    now: dt.datetime,
    where: RecordingFilter,
) -> Page[Recording]:
    stmt = _RECORDINGS[viewer is not None]
    if where.therapist_id is not None:
        stmt = stmt.where(Recording.therapist_id == where.therapist_id)
    if where.case_id is not None:
        stmt = stmt.where(Recording.case_id == where.case_id)
    if where.occurred_from is not None:
        stmt = stmt.where(Recording.occurred_at >= where.occurred_from)
    if where.occurred_to is not None:
        stmt = stmt.where(Recording.occurred_at < where.occurred_to)
    stmt, order = changed_since(stmt, Recording.created_at, Recording.updated_at, where.updated_since)
    params = _params(page.org_id, viewer, now)
    return await fetch_page(tx, stmt, order, Recording.id, page, cursors, params=params)
