"""Named queries over client ratings and client form links."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, update

from supervise.client_ratings.tables import ClientForm, ClientRating
from supervise.db import Tx, affected
from supervise.pagination import CursorCodec, Page, PageRequest, fetch_page

__all__ = [
    "form_by_digest",
    "get_form",
    "mark_used",
    "page_forms",
    "rating_by_external_id",
    "rating_for",
    "revoke",
]


async def rating_by_external_id(tx: Tx, org_id: uuid.UUID, external_id: str) -> ClientRating | None:
    return await tx.scalar(
        select(ClientRating).where(ClientRating.org_id == org_id, ClientRating.external_id == external_id)
    )


async def rating_for(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, rubric_key: str) -> ClientRating | None:
    """The session's client rating with this rubric, if it has one."""
    return await tx.scalar(
        select(ClientRating).where(
            ClientRating.org_id == org_id,
            ClientRating.recording_id == recording_id,
            ClientRating.rubric_key == rubric_key,
        )
    )


async def form_by_digest(tx: Tx, digest: bytes) -> ClientForm | None:
    """The link whose token has this digest, locked (PostgreSQL): two submissions through it queue."""
    return await tx.scalar(select(ClientForm).where(ClientForm.token_digest == digest).with_for_update())


async def get_form(
    tx: Tx, org_id: uuid.UUID, form_id: uuid.UUID, therapists: Sequence[uuid.UUID] | None, *, for_update: bool = False
) -> ClientForm | None:
    """The link, if it is of one of ``therapists``' sessions (``None``: any)."""
    stmt = select(ClientForm).where(ClientForm.org_id == org_id, ClientForm.id == form_id)
    if therapists is not None:
        stmt = stmt.where(ClientForm.therapist_id.in_(therapists))
    return await tx.scalar(stmt.with_for_update() if for_update else stmt)


async def page_forms(
    tx: Tx,
    org_id: uuid.UUID,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    therapists: Sequence[uuid.UUID] | None,
    recording_id: uuid.UUID | None,
) -> Page[ClientForm]:
    stmt = select(ClientForm).where(ClientForm.org_id == org_id)
    if therapists is not None:
        stmt = stmt.where(ClientForm.therapist_id.in_(therapists))
    if recording_id is not None:
        stmt = stmt.where(ClientForm.recording_id == recording_id)
    return await fetch_page(tx, stmt, ClientForm.created_at, ClientForm.id, page, cursors)


async def mark_used(tx: Tx, form: ClientForm, review_id: uuid.UUID, now: dt.datetime) -> bool:
    """Use the link up for ``review_id``, if it is still open; False if it is not."""
    used = await tx.execute(
        update(ClientForm)
        .where(
            ClientForm.id == form.id,
            ClientForm.used_at.is_(None),
            ClientForm.revoked_at.is_(None),
            ClientForm.expires_at > now,
        )
        .values(used_at=now, review_id=review_id)
        .execution_options(synchronize_session=False)
    )
    return affected(used) == 1


async def revoke(tx: Tx, form: ClientForm, now: dt.datetime) -> bool:
    """Revoke the link unless it was used; False if it was."""
    revoked = await tx.execute(
        update(ClientForm)
        .where(ClientForm.id == form.id, ClientForm.used_at.is_(None), ClientForm.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected(revoked) == 1
