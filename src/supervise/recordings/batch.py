"""Bulk upsert of recordings (``POST /v1/recordings:batch``): each item idempotent by its ``external_id`` and its
own unit of work.

An item is decoded, checked and written inside a SAVEPOINT of the request's transaction: one that fails rolls
back to it and changes nothing (no recording, no audit event, no outbox event), and the others are written.
Each item does what the single endpoints do, through the same service functions, and is audited and emits
events exactly as they do, in the same transaction; the audit events and outbox events of all the items
written are appended together once the items are (one statement each instead of several per item, measured
in ``bench/README.md``):

- a new ``external_id``: created as by ``POST /v1/recordings`` (``recording.create``, ``recording.created``);
- a known one with the same recording: unchanged, a read as the single POST's 200 (``recording.read``);
- a known one whose consent differs: updated as by ``PATCH /v1/recordings/{id}`` (``recording.update``,
  ``recording.consent_changed``, the rollups recounted), under the same rules (withdrawal is final; an expiry
  cannot be removed, as PATCH cannot);
- a known one that differs in a field that never changes (the case, and so the therapist; the time, number,
  duration, medium, media URI and hash): 409 ``external-id-used`` naming each such field.

An item names its case by id (``case_id``, as the single POST does), or by the clinic's reference (``case``:
the therapist and the client's ``external_ref``). A case named by reference that does not exist yet is created
as ``POST /v1/cases`` would, in the item's savepoint (so a failed item leaves no case behind), and audited
``case.create`` just before the item's own event; the items after it that name it find it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

import msgspec

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.bodies import decode_part
from supervise.db import Tx
from supervise.errors import Conflict, DomainError, FieldError, Unprocessable
from supervise.events import service as events
from supervise.events.schemas import RecordingConsentChanged, RecordingCreated
from supervise.recordings import repository, service
from supervise.recordings.schemas import MAX_BATCH, RecordingBatchItem
from supervise.recordings.tables import Case, Recording

__all__ = ["Outcome", "upsert_recordings"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one item: a recording, or the error that left it unwritten."""

    index: int
    external_id: str | None
    result: Literal["created", "unchanged", "updated", "failed"]
    recording: Recording | None = None
    error: DomainError | None = None
    case: Case | None = None
    """The case the item created (named by reference, and new)."""

    @property
    def status(self) -> int:
        if self.error is not None:
            return self.error.kind.status
        return 201 if self.result == "created" else 200


async def upsert_recordings(tx: Tx, principal: Principal, raw_items: list[msgspec.Raw]) -> list[Outcome]:
    """Upsert each item on its own; one outcome per item, in order."""
    if not 1 <= len(raw_items) <= MAX_BATCH:
        raise Unprocessable(
            problems.BATCH_SIZE,
            f"A batch holds 1 to {MAX_BATCH} items; this one has {len(raw_items)}.",
            errors=[FieldError("items", f"must hold 1 to {MAX_BATCH} items")],
        )
    decoded: list[RecordingBatchItem | DomainError] = []
    external_ids: list[str | None] = []
    for raw in raw_items:
        try:
            item = _named_once(decode_part(raw, RecordingBatchItem))
        except DomainError as invalid:
            decoded.append(invalid)
            external_ids.append(_external_id_of(raw))
        else:
            decoded.append(item)
            external_ids.append(item.external_id)
    where: dict[str, list[int]] = {}
    for index, external_id in enumerate(external_ids):
        if external_id is not None:
            where.setdefault(external_id, []).append(index)
    valid = [item for item in decoded if isinstance(item, RecordingBatchItem)]
    # The chain lock first, as every writer takes it before the rows it changes (the rollups a consent change
    # recounts): writers queue instead of deadlocking. The first audited item would take it anyway. What the
    # items name is read after it: a batch that waited for another (the same day pushed twice at once) then
    # finds the cases and recordings that one committed, instead of failing its items on their unique keys.
    await audit.serialise(tx, principal.org_id)
    by_id = await repository.cases_by_id(tx, principal.org_id, {i.case_id for i in valid if i.case_id is not None})
    by_ref = await repository.cases_by_ref(
        tx, principal.org_id, {(i.case.therapist_id, i.case.external_ref) for i in valid if i.case is not None}
    )
    pushed = (
        await repository.recordings_by_external_id(tx, principal.org_id, {item.external_id for item in valid})
        if valid
        else {}
    )
    sees: dict[uuid.UUID, bool] = {}
    outcomes: list[Outcome] = []
    for index, part in enumerate(decoded):
        external_id = external_ids[index]
        if isinstance(part, DomainError):
            outcomes.append(Outcome(index, external_id, "failed", error=part))
            continue
        item = part
        others = [i for i in where[item.external_id] if i != index]
        if others:
            outcomes.append(Outcome(index, external_id, "failed", error=_duplicate(others)))
            continue
        try:
            async with db.savepoint(tx):
                _offsets_given(item)
                case, made = await _case_of(tx, principal, item, by_id, by_ref, sees)
                result, recording = await _upsert(tx, principal, item, case, pushed.get(item.external_id))
        except DomainError as failed:
            outcomes.append(Outcome(index, external_id, "failed", error=failed))
        else:
            if made and item.case is not None:
                by_ref[item.case.therapist_id, item.case.external_ref] = case
            outcomes.append(Outcome(index, external_id, result, recording=recording, case=case if made else None))
    await _audit_and_announce(tx, principal, outcomes)
    return outcomes


async def _audit_and_announce(tx: Tx, principal: Principal, outcomes: list[Outcome]) -> None:
    """The audit events and outbox events of the items written, in their order: those the single endpoints
    append (``recording.create`` and ``recording.created``; ``recording.update`` and
    ``recording.consent_changed``), in the same transaction, appended together rather than one statement each
    per item. A failed item has none: its savepoint rolled its rows back, and nothing is appended for it."""
    changes: list[tuple[str, str, uuid.UUID | None]] = []
    payloads: list[RecordingCreated | RecordingConsentChanged] = []
    for outcome in outcomes:
        recording = outcome.recording
        if outcome.case is not None:
            changes.append(("case.create", "case", outcome.case.id))
        if recording is None or outcome.result == "unchanged":
            continue
        if outcome.result == "created":
            changes.append(("recording.create", "recording", recording.id))
            payloads.append(service.created_event(recording))
        else:
            changes.append(("recording.update", "recording", recording.id))
            payloads.append(service.consent_event(recording))
    await audit.record_each(tx, principal, changes)
    await events.record(tx, principal.org_id, *payloads)


def _external_id_of(raw: msgspec.Raw) -> str | None:
    """The ``external_id`` of an item that does not decode, if it has a readable one (to name it in the
    answer, and to find it given twice)."""
    try:
        value = msgspec.json.decode(bytes(raw))
    except (msgspec.DecodeError, RecursionError):
        return None
    external_id = value.get("external_id") if isinstance(value, dict) else None
    return external_id if isinstance(external_id, str) else None


def _named_once(item: RecordingBatchItem) -> RecordingBatchItem:
    """The item, if it names its case one way: by ``case_id`` or by ``case``, not both and not neither."""
    if item.case_id is not None and item.case is not None:
        both = "give case_id or case, not both"
        raise DomainError(
            problems.INVALID_REQUEST,
            f"The item is not valid: {both}.",
            errors=[FieldError("case_id", both), FieldError("case", both)],
        )
    if item.case_id is None and item.case is None:
        raise DomainError(
            problems.INVALID_REQUEST,
            "The item is not valid: name its case, by case_id or by case.",
            errors=[FieldError("case_id", "required, unless case names the case by its reference")],
        )
    return item


def _offsets_given(item: RecordingBatchItem) -> None:
    errors = service.naive(item.occurred_at, "occurred_at") + service.naive(
        item.consent.expires_at, "consent.expires_at"
    )
    if errors:
        raise Unprocessable(problems.INVALID_VALUE, "The recording is not valid.", errors=errors)


async def _case_of(
    tx: Tx,
    principal: Principal,
    item: RecordingBatchItem,
    by_id: dict[uuid.UUID, Case],
    by_ref: dict[tuple[uuid.UUID, str], Case],
    sees: dict[uuid.UUID, bool],
) -> tuple[Case, bool]:
    """The item's case, and whether it was created now (named by reference, and new). A case the caller may
    not see is answered as one that does not exist, whichever way it was named."""
    named, case = item.case, None
    if named is not None:
        case = by_ref.get((named.therapist_id, named.external_ref))
    elif item.case_id is not None:  # one of the two, by _named_once
        case = by_id.get(item.case_id)
    if case is not None and case.therapist_id not in sees:
        sees[case.therapist_id] = await service.may_see_therapist(tx, principal, case.therapist_id)
    if case is not None and sees[case.therapist_id]:
        service.may_write_for(principal, case.therapist_id)
        return case, False
    if named is None:
        raise Unprocessable(
            problems.INVALID_REFERENCE,
            "The recording is not valid.",
            errors=[FieldError("case_id", "no case with this id")],
        )
    try:  # the same checks as POST /v1/cases, which answer as if there were no case for an unseen therapist
        return await service.new_case(tx, principal, named), True
    except DomainError as refused:
        refused.errors = [FieldError(f"case.{e.field}", e.message) for e in refused.errors]
        raise


def _duplicate(others: list[int]) -> DomainError:
    named = ", ".join(f"items[{i}]" for i in others)
    return Unprocessable(
        problems.BATCH_DUPLICATE,
        f"This batch gives the same external_id at {named} too; none of them was written.",
        errors=[FieldError("external_id", f"also given at {named}")],
    )


async def _upsert(
    tx: Tx, principal: Principal, item: RecordingBatchItem, case: Case, existing: Recording | None
) -> tuple[Literal["created", "unchanged", "updated"], Recording]:
    data = item.of_case(case.id)
    if existing is None:
        return "created", await service.write_recording(tx, principal, case, data)
    fixed = [
        "case" if name == "case_id" and item.case is not None else name
        for name in service.fixed_differences(existing, data)
    ]
    if fixed:
        # Name the other recording, and which of its fields differ, only to someone allowed to see it: to anyone
        # else the fields would tell, one probe at a time, what the hidden session's are.
        if await service.visible_recording(tx, principal, existing.id) is None:
            raise Conflict(
                problems.EXTERNAL_ID_USED,
                "A different recording was already pushed with this external_id.",
                errors=[FieldError("external_id", "already used")],
            )
        raise Conflict(
            problems.EXTERNAL_ID_USED,
            f"A different recording was already pushed with this external_id: {', '.join(fixed)} cannot change.",
            errors=[FieldError("external_id", f"already used by recording {existing.id}")]
            + [
                FieldError(name, "differs from the recording pushed with this external_id; it cannot change")
                for name in fixed
            ],
            recording_id=existing.id,
        )
    changes = _consent_changes(existing, item)
    if not changes:
        audit.record_read(tx, principal, "recording.read", "recording", existing.id)
        return "unchanged", existing
    refused = _refused_consent_changes(existing, item)
    if refused:
        raise Unprocessable(problems.INVALID_VALUE, "The consent cannot be changed as asked.", errors=refused)
    stale = Conflict(problems.CONCURRENT_WRITE, "The recording changed while this batch ran; retry the item.")
    await service.write_consent(tx, existing, changes, stale=stale)
    return "updated", existing


def _expiry(item: RecordingBatchItem) -> dt.datetime | None:
    expires_at = item.consent.expires_at
    return expires_at.astimezone(dt.UTC) if expires_at is not None else None


def _consent_changes(existing: Recording, item: RecordingBatchItem) -> dict[str, object]:
    changes: dict[str, object] = {}
    if item.consent.scope != existing.consent_scope:
        changes["consent_scope"] = item.consent.scope
    if _expiry(item) != existing.consent_expires_at:
        changes["consent_expires_at"] = _expiry(item)
    return changes


def _refused_consent_changes(existing: Recording, item: RecordingBatchItem) -> list[FieldError]:
    """What PATCH would refuse of these changes too."""
    if existing.consent_withdrawn_at is not None:
        return [FieldError("consent", "consent was withdrawn; withdrawal is final")]
    if _expiry(item) is None:
        return [FieldError("consent.expires_at", "an expiry cannot be removed; send it, or a later one")]
    return []
