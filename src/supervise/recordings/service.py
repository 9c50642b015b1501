r"""Rules for cases and recordings: who may see a therapist's sessions, consent, idempotent sync.

A therapist's cases and recordings are visible to the therapist, to their supervisors (by supervision link)
and to admins; to anyone else they do not exist (404). Every read is audited: recordings are health data.
Series and team views count a session only while its consent holds: a change of consent recounts the rollups
in the same transaction (``supervise.scores``).

Other domains read recordings through :func:`visible_recording`, :func:`recording_of`, :func:`find_case` and
:func:`may_see_therapist`; the rows they get are :class:`Recording`\ s and :class:`Case`\ s.
"""

from __future__ import annotations

import datetime as dt
import uuid

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from supervise.events import service as events
from supervise.events.schemas import RecordingConsentChanged, RecordingCreated
from supervise.members import service as members
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.recordings import repository
from supervise.recordings.schemas import CaseCreate, RecordingCreate, RecordingFilter, RecordingUpdate
from supervise.recordings.tables import Case, Recording
from supervise.runtime import Runtime
from supervise.scores import service as scores

__all__ = [
    "Case",
    "Pushed",
    "Recording",
    "change_consent",
    "consent_event",
    "create_case",
    "create_recording",
    "created_event",
    "find_case",
    "fixed_differences",
    "get_case",
    "get_recording",
    "insert_recording",
    "list_cases",
    "list_recordings",
    "may_see_therapist",
    "may_write_for",
    "naive",
    "recording_of",
    "update_recording",
    "visible_recording",
    "write_consent",
    "write_recording",
]


def _viewer(principal: Principal) -> uuid.UUID | None:
    return None if principal.is_admin else principal.member_id


async def visible_recording(tx: Tx, principal: Principal, recording_id: uuid.UUID) -> Recording | None:
    """The recording, if ``principal`` may see it now (consent decides for everyone but its therapist and
    admins), without auditing the read."""
    return await repository.get_recording(tx, principal.org_id, recording_id, viewer=_viewer(principal), now=utcnow())


async def recording_of(tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID) -> Recording:
    """A recording another row refers to (a review's, a request's), whoever may see it, without auditing."""
    recording = await repository.get_recording(tx, org_id, recording_id, viewer=None, now=utcnow())
    assert recording is not None  # a foreign key guarantees it
    return recording


async def find_case(tx: Tx, org_id: uuid.UUID, case_id: uuid.UUID) -> Case | None:
    """A case, whoever may see it, without auditing (the caller decides with :func:`may_see_therapist`)."""
    return await repository.get_case(tx, org_id, case_id)


async def may_see_therapist(tx: Tx, principal: Principal, therapist_id: uuid.UUID) -> bool:
    """The therapist themself, their supervisors and admins see a therapist's cases, sessions and figures."""
    return (
        principal.is_admin
        or principal.member_id == therapist_id
        or await members.supervises(tx, principal.org_id, principal.member_id, therapist_id)
    )


def may_write_for(principal: Principal, therapist_id: uuid.UUID) -> None:
    if not (principal.is_admin or principal.member_id == therapist_id):
        raise Forbidden(
            problems.NOT_PERMITTED, "Only the therapist or an admin may add cases and recordings for a therapist."
        )


def naive(value: dt.datetime | None, field: str) -> list[FieldError]:
    return [FieldError(field, "needs a timezone offset")] if value is not None and value.tzinfo is None else []


async def create_case(tx: Tx, principal: Principal, data: CaseCreate) -> Case:
    # The organisation's lock before the insert, in the order a batch takes them (it holds the lock while it
    # inserts cases): the other order deadlocks against a batch making the same case.
    await audit.serialise(tx, principal.org_id)
    case = await new_case(tx, principal, data)
    await audit.record(tx, principal, "case.create", "case", case.id)
    return case


async def new_case(tx: Tx, principal: Principal, data: CaseCreate) -> Case:
    """The case of :func:`create_case`, checked and written as it is, without its audit event: the caller
    appends ``("case.create", ...)`` in the same transaction."""
    therapist = await members.find_member(tx, principal.org_id, data.therapist_id)
    if therapist is None or not await may_see_therapist(tx, principal, therapist.id):
        raise Unprocessable(
            problems.INVALID_REFERENCE,
            "The case is not valid.",
            errors=[FieldError("therapist_id", "no member with this id")],
        )
    may_write_for(principal, therapist.id)
    if not (therapist.active and therapist.is_clinician):
        raise Unprocessable(
            problems.INVALID_REFERENCE,
            "The case is not valid.",
            errors=[FieldError("therapist_id", "not an active member with the clinician role")],
        )
    existing = await repository.case_by_ref(tx, principal.org_id, therapist.id, data.external_ref)
    if existing is not None:
        raise Conflict(
            problems.CASE_EXISTS,
            f"This therapist already has a case with this external_ref: {existing.id}.",
            case_id=existing.id,
        )
    case = Case(
        id=new_id(),
        org_id=principal.org_id,
        therapist_id=therapist.id,
        external_ref=data.external_ref,
        created_at=utcnow(),
    )
    await db.insert(
        tx, case, conflict=Conflict(problems.CASE_EXISTS, "This therapist already has a case with this external_ref.")
    )
    return case


async def get_case(tx: Tx, principal: Principal, case_id: uuid.UUID) -> Case:
    case = await repository.get_case(tx, principal.org_id, case_id)
    if case is None or not await may_see_therapist(tx, principal, case.therapist_id):
        raise NotFound("case")
    audit.record_read(tx, principal, "case.read", "case", case.id)
    return case


async def list_cases(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    therapist_id: uuid.UUID | None,
    created_since: dt.datetime | None = None,
) -> Page[Case]:
    result = await repository.page_cases(
        tx, page, runtime.cursors, viewer=_viewer(principal), therapist_id=therapist_id, created_since=created_since
    )
    audit.record_read(tx, principal, "case.list", "case", None)
    return result


def fixed_differences(recording: Recording, data: RecordingCreate) -> list[str]:
    """The fields that can never change (every one but consent) in which ``data`` differs from ``recording``,
    by their names in the body. Pushed again with any of them different, it is another recording."""
    stored = {
        "case_id": recording.case_id,
        "occurred_at": recording.occurred_at,
        "session_number": recording.session_number,
        "duration_ms": recording.duration_ms,
        "medium": recording.medium,
        "media.uri": recording.media_uri,
        "media.sha256": recording.media_sha256,
    }
    given = {
        "case_id": data.case_id,
        "occurred_at": data.occurred_at.astimezone(dt.UTC),
        "session_number": data.session_number,
        "duration_ms": data.duration_ms,
        "medium": data.medium,
        "media.uri": data.media.uri,
        "media.sha256": data.media.sha256,
    }
    return [name for name, value in stored.items() if given[name] != value]


class Pushed:
    """A recording pushed by a clinic system, and whether this push created it (else: the same
    ``external_id`` was pushed before)."""

    __slots__ = ("created", "recording")

    def __init__(self, recording: Recording, created: bool) -> None:
        self.recording, self.created = recording, created


async def create_recording(tx: Tx, principal: Principal, data: RecordingCreate) -> Pushed:
    errors = naive(data.occurred_at, "occurred_at") + naive(data.consent.expires_at, "consent.expires_at")
    if errors:
        raise Unprocessable(problems.INVALID_VALUE, "The recording is not valid.", errors=errors)
    case = await repository.get_case(tx, principal.org_id, data.case_id)
    if case is None or not await may_see_therapist(tx, principal, case.therapist_id):
        raise Unprocessable(
            problems.INVALID_REFERENCE,
            "The recording is not valid.",
            errors=[FieldError("case_id", "no case with this id")],
        )
    may_write_for(principal, case.therapist_id)
    await audit.serialise(tx, principal.org_id)  # before the insert, in a batch's order (as create_case)
    if data.external_id is not None:
        existing = await repository.recording_by_external_id(tx, principal.org_id, data.external_id)
        if existing is not None:
            if fixed_differences(existing, data):
                # Name the other recording only to someone allowed to see it.
                visible = await visible_recording(tx, principal, existing.id) is not None
                used_by = f"already used by recording {existing.id}" if visible else "already used"
                raise Conflict(
                    problems.EXTERNAL_ID_USED,
                    "A different recording was already pushed with this external_id.",
                    errors=[FieldError("external_id", used_by)],
                    recording_id=existing.id if visible else None,
                )
            audit.record_read(tx, principal, "recording.read", "recording", existing.id)
            return Pushed(existing, created=False)
    return Pushed(await insert_recording(tx, principal, case, data), created=True)


async def insert_recording(tx: Tx, principal: Principal, case: Case, data: RecordingCreate) -> Recording:
    """Write a new recording of ``case`` (the caller checked who may): audited, with its ``recording.created``
    event, in the caller's transaction."""
    recording = await write_recording(tx, principal, case, data)
    await audit.record(tx, principal, "recording.create", "recording", recording.id)
    await events.record(tx, principal.org_id, created_event(recording))
    return recording


async def write_recording(tx: Tx, principal: Principal, case: Case, data: RecordingCreate) -> Recording:
    """The row of :func:`insert_recording`, without its audit event and outbox event: the caller appends
    ``("recording.create", ...)`` and :func:`created_event` in the same transaction."""
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
    await db.insert(
        tx,
        recording,
        conflict=Conflict(
            problems.CONCURRENT_WRITE, "A recording with this external_id was pushed at the same time; retry."
        ),
    )
    return recording


def created_event(recording: Recording) -> RecordingCreated:
    return RecordingCreated(recording_id=recording.id, case_id=recording.case_id, therapist_id=recording.therapist_id)


async def get_recording(tx: Tx, principal: Principal, recording_id: uuid.UUID) -> Recording:
    recording = await visible_recording(tx, principal, recording_id)
    if recording is None:
        raise NotFound("recording")
    audit.record_read(tx, principal, "recording.read", "recording", recording.id)
    return recording


async def list_recordings(
    tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest, where: RecordingFilter
) -> Page[Recording]:
    result = await repository.page_recordings(
        tx, page, runtime.cursors, viewer=_viewer(principal), now=utcnow(), where=where
    )
    audit.record_read(tx, principal, "recording.list", "recording", None)
    return result


async def update_recording(
    tx: Tx, principal: Principal, recording_id: uuid.UUID, data: RecordingUpdate, if_match: str | None
) -> Recording:
    """Change or withdraw consent; the rollups follow in the same transaction."""
    recording = await visible_recording(tx, principal, recording_id)
    if recording is None:
        raise NotFound("recording")
    may_write_for(principal, recording.therapist_id)
    check_if_match(if_match, recording.version)
    errors = naive(data.consent_expires_at, "consent_expires_at")
    if recording.consent_withdrawn_at is not None and (data.consent_scope or data.consent_expires_at):
        errors.append(FieldError("consent_scope", "consent was withdrawn; withdrawal is final"))
    if errors:
        raise Unprocessable(problems.INVALID_VALUE, "The consent cannot be changed as asked.", errors=errors)
    changes: dict[str, object] = {}
    if data.consent_scope is not None:
        changes["consent_scope"] = data.consent_scope
    if data.consent_expires_at is not None:
        changes["consent_expires_at"] = data.consent_expires_at.astimezone(dt.UTC)
    if data.withdraw_consent and recording.consent_withdrawn_at is None:
        changes["consent_withdrawn_at"] = utcnow()
    stale = PreconditionFailed("The recording changed while this update ran; read it again and retry.")
    await change_consent(tx, principal, recording, changes, stale=stale)
    return recording


async def change_consent(
    tx: Tx, principal: Principal, recording: Recording, changes: dict[str, object], *, stale: DomainError
) -> None:
    """Apply consent ``changes`` (the caller checked them), audited, with their ``recording.consent_changed``
    event; the rollups follow, in the caller's transaction."""
    if not changes:
        await scores.recount(tx, recording.org_id, recording.id, recording.consent_holds(utcnow()))
        return
    await write_consent(tx, recording, changes, stale=stale)
    await audit.record(tx, principal, "recording.update", "recording", recording.id)
    await events.record(tx, principal.org_id, consent_event(recording))


async def write_consent(tx: Tx, recording: Recording, changes: dict[str, object], *, stale: DomainError) -> None:
    """The change of :func:`change_consent` and its recount, without its audit event and outbox event: the
    caller appends ``("recording.update", ...)`` and :func:`consent_event` in the same transaction. The
    organisation's lock comes before the row's, in the order a batch takes them (it holds the lock while it
    changes consents): the other order deadlocks against a batch changing the same recording."""
    await audit.serialise(tx, recording.org_id)
    await db.update(tx, recording, changes, stale=stale)
    await scores.recount(tx, recording.org_id, recording.id, recording.consent_holds(utcnow()))


def consent_event(recording: Recording) -> RecordingConsentChanged:
    return RecordingConsentChanged(
        recording_id=recording.id,
        case_id=recording.case_id,
        therapist_id=recording.therapist_id,
        consent_active=recording.consent_holds(utcnow()),
        withdrawn=recording.consent_withdrawn_at is not None,
    )
