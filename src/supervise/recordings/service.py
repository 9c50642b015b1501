"""Rules for cases and recordings: who may see a therapist's sessions, consent, idempotent sync.

A therapist's cases and recordings are visible to the therapist, to their supervisors (by supervision link)
and to admins; to anyone else they do not exist (404). Every read is audited: recordings are health data.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import new_id, utcnow
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from supervise.members import repository as members
from supervise.pagination import Page, PageRequest, fetch_page
from supervise.preconditions import check_if_match
from supervise.recordings import repository
from supervise.recordings.schemas import CaseCreate, RecordingCreate, RecordingUpdate
from supervise.recordings.tables import Case, Recording
from supervise.runtime import Runtime

__all__ = [
    "consent_active",
    "create_case",
    "create_recording",
    "get_case",
    "get_recording",
    "list_cases",
    "list_recordings",
    "may_see_therapist",
    "update_recording",
    "viewer_of",
    "visible_recording",
]


def consent_active(recording: Recording, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    expired = recording.consent_expires_at is not None and recording.consent_expires_at <= now
    return recording.consent_withdrawn_at is None and not expired


def viewer_of(principal: Principal) -> uuid.UUID | None:
    return None if principal.is_admin else principal.member_id


async def visible_recording(tx: AsyncSession, principal: Principal, recording_id: uuid.UUID) -> Recording | None:
    """The recording, if ``principal`` may see it now (consent decides for everyone but its therapist and
    admins), without auditing the read."""
    return await repository.get_recording(tx, principal.org_id, recording_id, viewer=viewer_of(principal), now=utcnow())


async def may_see_therapist(tx: AsyncSession, principal: Principal, therapist_id: uuid.UUID) -> bool:
    """The therapist themself, their supervisors and admins see a therapist's cases, sessions and figures."""
    return (
        principal.is_admin
        or principal.member_id == therapist_id
        or await repository.supervises(tx, principal.org_id, principal.member_id, therapist_id)
    )


def _may_write_for(principal: Principal, therapist_id: uuid.UUID) -> None:
    if not (principal.is_admin or principal.member_id == therapist_id):
        raise Forbidden("Only the therapist or an admin may add cases and recordings for a therapist.")


def _aware(value: dt.datetime | None, field: str) -> list[FieldError]:
    return [FieldError(field, "needs a timezone offset")] if value is not None and value.tzinfo is None else []


async def create_case(tx: AsyncSession, principal: Principal, data: CaseCreate) -> Case:
    therapist = await members.get_member(tx, principal.org_id, data.therapist_id)
    if therapist is None or not await may_see_therapist(tx, principal, therapist.id):
        raise Unprocessable("The case is not valid.", errors=[FieldError("therapist_id", "no member with this id")])
    _may_write_for(principal, therapist.id)
    if not (therapist.active and therapist.is_clinician):
        raise Unprocessable(
            "The case is not valid.",
            errors=[FieldError("therapist_id", "not an active member with the clinician role")],
        )
    existing = await tx.scalar(
        repository.select_cases(principal.org_id, viewer=None, therapist_id=therapist.id).where(
            Case.external_ref == data.external_ref
        )
    )
    if existing is not None:
        raise Conflict(f"This therapist already has a case with this external_ref: {existing.id}.")
    case = Case(
        id=new_id(),
        org_id=principal.org_id,
        therapist_id=therapist.id,
        external_ref=data.external_ref,
        created_at=utcnow(),
    )
    tx.add(case)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("This therapist already has a case with this external_ref.") from None
    await audit.record(tx, principal, "case.create", "case", case.id)
    return case


async def get_case(tx: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Case:
    case = await repository.get_case(tx, principal.org_id, case_id)
    if case is None or not await may_see_therapist(tx, principal, case.therapist_id):
        raise NotFound("case")
    audit.record_read(tx, principal, "case.read", "case", case.id)
    return case


async def list_cases(
    tx: AsyncSession, runtime: Runtime, principal: Principal, page: PageRequest, *, therapist_id: uuid.UUID | None
) -> Page[Case]:
    viewer = None if principal.is_admin else principal.member_id
    stmt = repository.select_cases(principal.org_id, viewer=viewer, therapist_id=therapist_id)
    result = await fetch_page(tx, stmt, Case.created_at, Case.id, page, runtime.cursors)
    audit.record_read(tx, principal, "case.list", "case", None)
    return result


def _same(recording: Recording, data: RecordingCreate) -> bool:
    return (
        recording.case_id == data.case_id
        and recording.occurred_at == data.occurred_at.astimezone(dt.UTC)
        and recording.session_number == data.session_number
        and recording.duration_ms == data.duration_ms
        and recording.medium == data.medium
        and recording.media_uri == data.media.uri
        and recording.media_sha256 == data.media.sha256
    )


async def create_recording(tx: AsyncSession, principal: Principal, data: RecordingCreate) -> tuple[Recording, bool]:
    """The recording, and whether it was created now (False: the same ``external_id`` was pushed before)."""
    errors = _aware(data.occurred_at, "occurred_at") + _aware(data.consent.expires_at, "consent.expires_at")
    if errors:
        raise Unprocessable("The recording is not valid.", errors=errors)
    case = await repository.get_case(tx, principal.org_id, data.case_id)
    if case is None or not await may_see_therapist(tx, principal, case.therapist_id):
        raise Unprocessable("The recording is not valid.", errors=[FieldError("case_id", "no case with this id")])
    _may_write_for(principal, case.therapist_id)
    if data.external_id is not None:
        existing = await repository.recording_by_external_id(tx, principal.org_id, data.external_id)
        if existing is not None:
            if not _same(existing, data):
                # Name the other recording only to someone allowed to see it.
                visible = await visible_recording(tx, principal, existing.id) is not None
                used_by = f"already used by recording {existing.id}" if visible else "already used"
                raise Conflict(
                    "A different recording was already pushed with this external_id.",
                    errors=[FieldError("external_id", used_by)],
                )
            audit.record_read(tx, principal, "recording.read", "recording", existing.id)
            return existing, False
    now = utcnow()
    recording = Recording(
        id=new_id(),
        org_id=principal.org_id,
        case_id=case.id,
        therapist_id=case.therapist_id,
        occurred_at=data.occurred_at.astimezone(dt.UTC),
        session_number=data.session_number,
        duration_ms=data.duration_ms,
        medium=data.medium,
        media_uri=data.media.uri,
        media_sha256=data.media.sha256,
        consent_scope=data.consent.scope,
        consent_expires_at=data.consent.expires_at.astimezone(dt.UTC) if data.consent.expires_at else None,
        consent_withdrawn_at=None,
        external_id=data.external_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    tx.add(recording)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("A recording with this external_id was pushed at the same time; retry.") from None
    await audit.record(tx, principal, "recording.create", "recording", recording.id)
    return recording, True


async def get_recording(tx: AsyncSession, principal: Principal, recording_id: uuid.UUID) -> Recording:
    recording = await visible_recording(tx, principal, recording_id)
    if recording is None:
        raise NotFound("recording")
    audit.record_read(tx, principal, "recording.read", "recording", recording.id)
    return recording


async def list_recordings(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    therapist_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
    occurred_from: dt.datetime | None,
    occurred_to: dt.datetime | None,
    updated_since: dt.datetime | None,
) -> Page[Recording]:
    # The API layer only passes RFC 3339 instants with an offset (see recordings/api.py).
    stmt = repository.select_recordings(
        principal.org_id,
        viewer=viewer_of(principal),
        now=utcnow(),
        therapist_id=therapist_id,
        case_id=case_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        updated_since=updated_since,
    )
    result = await fetch_page(tx, stmt, Recording.created_at, Recording.id, page, runtime.cursors)
    audit.record_read(tx, principal, "recording.list", "recording", None)
    return result


async def update_recording(
    tx: AsyncSession, principal: Principal, recording_id: uuid.UUID, data: RecordingUpdate, if_match: str | None
) -> Recording:
    recording = await visible_recording(tx, principal, recording_id)
    if recording is None:
        raise NotFound("recording")
    _may_write_for(principal, recording.therapist_id)
    check_if_match(if_match, recording.version)
    errors = _aware(data.consent_expires_at, "consent_expires_at")
    if recording.consent_withdrawn_at is not None and (data.consent_scope or data.consent_expires_at):
        errors.append(FieldError("consent_scope", "consent was withdrawn; withdrawal is final"))
    if errors:
        raise Unprocessable("The consent cannot be changed as asked.", errors=errors)
    values: dict[str, object] = {}
    if data.consent_scope is not None:
        values["consent_scope"] = data.consent_scope
    if data.consent_expires_at is not None:
        values["consent_expires_at"] = data.consent_expires_at
    if data.withdraw_consent and recording.consent_withdrawn_at is None:
        values["consent_withdrawn_at"] = utcnow()
    if values:
        result = await tx.execute(
            update(Recording)
            .where(
                Recording.org_id == principal.org_id,
                Recording.id == recording.id,
                Recording.version == recording.version,
            )
            .values(**values, version=recording.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise PreconditionFailed("The recording changed while this update ran; read it again and retry.")
        await tx.refresh(recording)
        await audit.record(tx, principal, "recording.update", "recording", recording.id)
    return recording
