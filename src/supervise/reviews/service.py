"""The review workflow: who may assign, review, see and answer what, and in which order.

- A **request** assigns a recording to a reviewer in a role. A supervisor of the therapist or an admin may
  assign any role; the therapist may ask for peer review (and self-rating) of their own sessions. Reviewers
  must fit the role: ``supervisor`` a supervisor of the therapist, ``peer`` another active clinician,
  ``self`` the therapist. The rubric version is pinned when the request is made.
- A **review** starts from a request (by its reviewer) or directly (by a supervisor of the therapist, or by
  the therapist rating their own session). Drafts are saved under ``If-Match`` and validated against the
  rubric on every save; ``submit`` scores them and makes them immutable; ``amend`` opens a new revision with a
  reason; the therapist ``acknowledge``s observer reviews with a usefulness rating and an optional answer.
- **Visibility** is in :mod:`supervise.reviews.repository` (one predicate for reads and lists): blind until
  one's own review is submitted; drafts are their author's (and admins'); consent that expired or was
  withdrawn hides the recording and its reviews from everyone but the therapist and admins.

Every write and every read is audited in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.aggregates import service as aggregates
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.db import new_id, utcnow
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from supervise.members import repository as members
from supervise.pagination import Page, PageRequest, fetch_page
from supervise.preconditions import check_if_match
from supervise.recordings import repository as recordings_repository
from supervise.recordings import service as recordings
from supervise.recordings.tables import Recording
from supervise.reviews import repository
from supervise.reviews.repository import LIVE_REQUEST_STATES, Viewer
from supervise.reviews.schemas import (
    AcknowledgeIn,
    AmendIn,
    AnnotationCreate,
    ReviewCreate,
    ReviewRequestCreate,
    ReviewUpdate,
)
from supervise.reviews.tables import Annotation, Review, ReviewRequest
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import Responses, Rubric
from supervise.runtime import Runtime

__all__ = [
    "MAX_ANNOTATIONS",
    "acknowledge",
    "amend",
    "cancel_request",
    "create_annotation",
    "create_request",
    "create_review",
    "delete_annotation",
    "discard_review",
    "get_request",
    "get_review",
    "list_annotations",
    "list_requests",
    "list_reviews",
    "request_review_ids",
    "submit",
    "update_review",
]

MAX_ANNOTATIONS = 500
"""Per review: enough for a dense coding of a long session, small enough to list in one response."""


def _viewer(principal: Principal) -> Viewer:
    return Viewer(principal.org_id, principal.member_id, is_admin=principal.is_admin, now=utcnow())


def _invalid(message: str, field: str, problem: str) -> Unprocessable:
    return Unprocessable(message, errors=[FieldError(field, problem)])


async def _reviewable(tx: AsyncSession, principal: Principal, recording_id: uuid.UUID, field: str) -> Recording:
    """A recording the caller may see and that may be reviewed now (consent for supervision use is active)."""
    recording = await recordings.visible_recording(tx, principal, recording_id)
    if recording is None:
        raise _invalid("The request names no recording you can see.", field, "no recording with this id")
    if not recordings.consent_active(recording):
        raise _invalid(
            "The recording may not be reviewed: consent for supervision use has expired or was withdrawn.",
            field,
            "consent for supervision use is not active",
        )
    return recording


def _pin(runtime: Runtime, key: str, version: str | None, role: str, *, key_field: str, version_field: str) -> Rubric:
    """The installed rubric ``key`` at ``version`` (latest when ``None``), rated by ``role``."""
    rubric = runtime.registry.latest(key) if version is None else runtime.registry.get(key, version)
    if rubric is None:
        if runtime.registry.latest(key) is None:
            raise _invalid("The rubric is not installed.", key_field, f"no installed rubric '{key}'")
        raise _invalid(
            "The rubric version is not installed.", version_field, f"{key} has no installed version {version}"
        )
    if role not in rubric.rater_roles:
        roles = ", ".join(rubric.rater_roles)
        raise _invalid(
            "The rubric is not rated by this role.", "role", f"{rubric.key} {rubric.version} is rated by: {roles}"
        )
    return rubric


def _installed(runtime: Runtime, review: Review) -> Rubric:
    rubric = runtime.registry.get(review.rubric_key, review.rubric_version)
    if rubric is None:
        raise Conflict(
            f"The review's rubric {review.rubric_key} {review.rubric_version} is no longer installed here; "
            "reinstall the plugin version that provides it."
        )
    return rubric


async def _supervises(
    tx: AsyncSession, principal: Principal, supervisor_id: uuid.UUID, therapist_id: uuid.UUID
) -> bool:
    return await recordings_repository.supervises(tx, principal.org_id, supervisor_id, therapist_id)


# ------------------------------------------------------------------------------------------------ requests


async def create_request(
    tx: AsyncSession, runtime: Runtime, principal: Principal, data: ReviewRequestCreate
) -> ReviewRequest:
    recording = await _reviewable(tx, principal, data.recording_id, "recording_id")
    therapist_id = recording.therapist_id
    is_therapist = principal.member_id == therapist_id
    if not (principal.is_admin or await _supervises(tx, principal, principal.member_id, therapist_id)):
        if not is_therapist:
            raise Forbidden("Only a supervisor of the therapist or an admin may assign this recording for review.")
        if data.role == "supervisor":
            raise Forbidden("A therapist may ask for peer review or self-rating; supervisors assign supervisor review.")
    reviewer = await members.get_member(tx, principal.org_id, data.reviewer_id)
    if reviewer is None:
        raise _invalid("The reviewer is not valid.", "reviewer_id", "no member with this id")
    if not reviewer.active:
        raise _invalid("The reviewer is not valid.", "reviewer_id", "not an active member")
    if data.role == "supervisor" and not await _supervises(tx, principal, reviewer.id, therapist_id):
        raise _invalid("The reviewer does not fit the role.", "reviewer_id", "not a supervisor of the therapist")
    if data.role == "peer":
        if reviewer.id == therapist_id:
            raise _invalid(
                "A peer may not review their own recording.", "reviewer_id", "is the therapist; use role 'self'"
            )
        if not reviewer.is_clinician:
            raise _invalid("The reviewer does not fit the role.", "reviewer_id", "peers are clinicians")
    if data.role == "self" and reviewer.id != therapist_id:
        raise _invalid("The reviewer does not fit the role.", "reviewer_id", "a self-rating is the therapist's own")
    rubric = _pin(
        runtime, data.rubric_key, data.rubric_version, data.role, key_field="rubric_key", version_field="rubric_version"
    )
    live = await tx.scalar(
        repository.select_requests(
            Viewer(principal.org_id, principal.member_id, is_admin=True, now=utcnow()),
            reviewer_id=reviewer.id,
            recording_id=recording.id,
            state=None,
        ).where(ReviewRequest.rubric_key == rubric.key, ReviewRequest.state.in_(LIVE_REQUEST_STATES))
    )
    if live is not None:
        raise Conflict(f"This reviewer already has an open request for this recording and rubric: {live.id}.")
    if await _existing_review(tx, principal, recording.id, reviewer.id, rubric.key) is not None:
        raise Conflict("This reviewer already reviewed this recording with this rubric; amend that review instead.")
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    now = utcnow()
    request = ReviewRequest(
        id=new_id(),
        org_id=principal.org_id,
        recording_id=recording.id,
        therapist_id=therapist_id,
        reviewer_id=reviewer.id,
        requested_by_id=principal.member_id,
        role=data.role,
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        due_on=data.due_on,
        note=data.note,
        state="open",
        version=1,
        created_at=now,
        updated_at=now,
    )
    tx.add(request)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("This reviewer was just given the same request by someone else.") from None
    await audit.record(tx, principal, "review_request.create", "review_request", request.id)
    return request


async def _existing_review(
    tx: AsyncSession, principal: Principal, recording_id: uuid.UUID, reviewer_id: uuid.UUID, rubric_key: str
) -> Review | None:
    everyone = Viewer(principal.org_id, principal.member_id, is_admin=True, now=utcnow())
    return await tx.scalar(
        repository.select_reviews(everyone, recording_id=recording_id, reviewer_id=reviewer_id, rubric_key=rubric_key)
    )


async def get_request(tx: AsyncSession, principal: Principal, request_id: uuid.UUID) -> ReviewRequest:
    request = await repository.get_request(tx, _viewer(principal), request_id)
    if request is None:
        raise NotFound("review request")
    audit.record_read(tx, principal, "review_request.read", "review_request", request.id)
    return request


async def list_requests(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    reviewer_id: uuid.UUID | None,
    recording_id: uuid.UUID | None,
    state: str | None,
) -> Page[ReviewRequest]:
    stmt = repository.select_requests(
        _viewer(principal), reviewer_id=reviewer_id, recording_id=recording_id, state=state
    )
    result = await fetch_page(tx, stmt, ReviewRequest.created_at, ReviewRequest.id, page, runtime.cursors)
    audit.record_read(tx, principal, "review_request.list", "review_request", None)
    return result


async def request_review_ids(
    tx: AsyncSession, principal: Principal, requests: list[ReviewRequest]
) -> dict[uuid.UUID, uuid.UUID]:
    return await repository.review_ids_for_requests(tx, principal.org_id, [r.id for r in requests])


async def _set_request_state(
    tx: AsyncSession, request: ReviewRequest, state: str, *, expected: tuple[str, ...]
) -> None:
    result = await tx.execute(
        update(ReviewRequest)
        .where(
            ReviewRequest.org_id == request.org_id,
            ReviewRequest.id == request.id,
            ReviewRequest.version == request.version,
            ReviewRequest.state.in_(expected),
        )
        .values(state=state, version=request.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The review request changed while this ran; read it again.")
    await tx.refresh(request)


async def cancel_request(
    tx: AsyncSession, principal: Principal, request_id: uuid.UUID, if_match: str | None
) -> ReviewRequest:
    """By whoever assigned it, the reviewer (declining), a supervisor of the therapist, or an admin; while it
    is open or in progress. A draft started from it is discarded with it: an assignment that no longer
    exists leaves no half-done review behind (submitted reviews are never touched)."""
    request = await repository.get_request(tx, _viewer(principal), request_id)
    if request is None:
        raise NotFound("review request")
    allowed = (
        principal.is_admin
        or principal.member_id in (request.requested_by_id, request.reviewer_id)
        or await _supervises(tx, principal, principal.member_id, request.therapist_id)
    )
    if not allowed:
        raise Forbidden("Only whoever assigned it, its reviewer, a supervisor of the therapist or an admin may cancel.")
    if if_match is not None:
        check_if_match(if_match, request.version)
    if request.state not in LIVE_REQUEST_STATES:
        raise Conflict(f"The request is {request.state}; only open or in-progress requests can be cancelled.")
    draft = await repository.draft_of_request(tx, request)
    if draft is not None:
        await _delete_draft(tx, draft)
        await audit.record(tx, principal, "review.discard", "review", draft.id)
    await _set_request_state(tx, request, "cancelled", expected=LIVE_REQUEST_STATES)
    await audit.record(tx, principal, "review_request.cancel", "review_request", request.id)
    return request


# ------------------------------------------------------------------------------------------------- reviews


async def create_review(tx: AsyncSession, runtime: Runtime, principal: Principal, data: ReviewCreate) -> Review:
    request: ReviewRequest | None = None
    if data.request_id is not None:
        extra = [f for f in ("recording_id", "rubric_key", "rubric_version") if getattr(data, f) is not None]
        if extra:
            raise Unprocessable(
                "A review started from a request takes the recording and rubric from the request.",
                errors=[FieldError(f, "not allowed with request_id") for f in extra],
            )
        request = await repository.get_request(tx, _viewer(principal), data.request_id)
        if request is None:
            raise _invalid("The review is not valid.", "request_id", "no review request with this id")
        if request.reviewer_id != principal.member_id:
            raise Forbidden("Only the request's reviewer may start its review.")
        if request.state != "open":
            started = await repository.review_ids_for_requests(tx, principal.org_id, [request.id])
            detail = f": review {started[request.id]}" if request.id in started else ""
            raise Conflict(f"The request is {request.state}; a review starts from an open request{detail}.")
        recording = await _reviewable(tx, principal, request.recording_id, "request_id")
        role, key, version = request.role, request.rubric_key, request.rubric_version
        rubric = _pin(runtime, key, version, role, key_field="request_id", version_field="request_id")
    else:
        missing = [f for f in ("recording_id", "rubric_key") if getattr(data, f) is None]
        if missing:
            raise Unprocessable(
                "Give request_id, or recording_id and rubric_key.",
                errors=[FieldError(f, "required without request_id") for f in missing],
            )
        assert data.recording_id is not None and data.rubric_key is not None
        recording = await _reviewable(tx, principal, data.recording_id, "recording_id")
        if recording.therapist_id == principal.member_id:
            role = "self"
        elif await _supervises(tx, principal, principal.member_id, recording.therapist_id):
            role = "supervisor"
        else:
            raise Forbidden(
                "Without a request, only a supervisor of the therapist or the therapist may review a recording."
            )
        rubric = _pin(
            runtime, data.rubric_key, data.rubric_version, role, key_field="rubric_key", version_field="rubric_version"
        )
    existing = await _existing_review(tx, principal, recording.id, principal.member_id, rubric.key)
    if existing is not None:
        raise Conflict(f"You already review this recording with this rubric: review {existing.id}.")
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    now = utcnow()
    review = Review(
        id=new_id(),
        org_id=principal.org_id,
        recording_id=recording.id,
        therapist_id=recording.therapist_id,
        reviewer_id=principal.member_id,
        request_id=request.id if request else None,
        role=role,
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        state="draft",
        revision=1,
        responses={},
        version=1,
        created_at=now,
        updated_at=now,
    )
    tx.add(review)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("You started the same review at the same time from another request; use that one.") from None
    if request is not None:
        await _set_request_state(tx, request, "in_progress", expected=("open",))
    await audit.record(tx, principal, "review.create", "review", review.id)
    return review


async def _visible_review(
    tx: AsyncSession, principal: Principal, review_id: uuid.UUID, *, for_update: bool = False
) -> Review:
    """The review if ``principal`` may see it. ``for_update`` locks its row (PostgreSQL) so that a change
    racing this one (a submit against an annotation, two amendments) waits and then sees the outcome."""
    review = await repository.get_review(tx, _viewer(principal), review_id, for_update=for_update)
    if review is None:
        raise NotFound("review")
    return review


async def _own_draft(tx: AsyncSession, principal: Principal, review_id: uuid.UUID, action: str) -> Review:
    review = await _visible_review(tx, principal, review_id, for_update=True)
    if review.reviewer_id != principal.member_id:
        raise Forbidden(f"Only the reviewer may {action} this review.")
    if review.state != "draft":
        raise Conflict(f"The review is {review.state}: submitted reviews are immutable; amend it instead.")
    if action != "discard":
        await _require_consent(tx, review)
    return review


async def _require_consent(tx: AsyncSession, review: Review) -> None:
    """No review work on a session whose consent for supervision use has ended (discarding a draft is fine).
    Other reviewers no longer see such a review at all; this also holds the therapist's own self-rating."""
    if not recordings.consent_active(await _recording_of(tx, review)):
        raise Conflict("Consent for supervision use of this recording has expired or was withdrawn.")


async def get_review(tx: AsyncSession, principal: Principal, review_id: uuid.UUID) -> Review:
    review = await _visible_review(tx, principal, review_id)
    audit.record_read(tx, principal, "review.read", "review", review.id)
    return review


async def list_reviews(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    recording_id: uuid.UUID | None = None,
    reviewer_id: uuid.UUID | None = None,
    therapist_id: uuid.UUID | None = None,
    state: str | None = None,
    rubric_key: str | None = None,
    role: str | None = None,
) -> Page[Review]:
    if recording_id is not None and await recordings.visible_recording(tx, principal, recording_id) is None:
        raise NotFound("recording")
    stmt = repository.select_reviews(
        _viewer(principal),
        recording_id=recording_id,
        reviewer_id=reviewer_id,
        therapist_id=therapist_id,
        state=state,
        rubric_key=rubric_key,
        role=role,
    )
    result = await fetch_page(tx, stmt, Review.created_at, Review.id, page, runtime.cursors)
    audit.record_read(tx, principal, "review.list", "review", None)
    return result


async def _recording_of(tx: AsyncSession, review: Review) -> Recording:
    recording = await recordings_repository.get_recording(
        tx, review.org_id, review.recording_id, viewer=None, now=utcnow()
    )
    assert recording is not None  # a foreign key guarantees it
    return recording


def _beyond(recording: Recording, end_ms: int) -> bool:
    return end_ms > recording.duration_ms


async def _check_responses(
    tx: AsyncSession, runtime: Runtime, review: Review, responses: Responses, *, complete: bool = False
) -> None:
    """Against the rubric (``complete``: every required item answered) and the recording's length; 422 naming
    each fault as ``responses.<path>``, as a draft save names it."""
    rubric = _installed(runtime, review)
    problems = [
        FieldError(f"responses.{field}", message) for field, message in rubric.validate(responses, complete=complete)
    ]
    if responses.segments:
        recording = await _recording_of(tx, review)
        problems += [
            FieldError(f"responses.segments[{i}]", f"ends after the recording ({recording.duration_ms} ms)")
            for i, segment in enumerate(responses.segments)
            if _beyond(recording, segment.end_ms)
        ]
    if problems:
        raise Unprocessable(f"The responses do not fit {rubric.key} {rubric.version}.", errors=problems)


async def _bump(tx: AsyncSession, review: Review, **values: Any) -> None:
    """Write ``values`` if the review is still at the version read, and reload it. Callers hold the row lock,
    so this guards rather than decides; a lost race is a 412 for the version the caller saw."""
    result = await tx.execute(
        update(Review)
        .where(Review.org_id == review.org_id, Review.id == review.id, Review.version == review.version)
        .values(**values, version=review.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("The review changed while this request ran; read it again and retry.")
    await tx.refresh(review)


async def update_review(
    tx: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    review_id: uuid.UUID,
    data: ReviewUpdate,
    if_match: str | None,
) -> Review:
    review = await _own_draft(tx, principal, review_id, "edit")
    check_if_match(if_match, review.version)
    values: dict[str, Any] = {}
    if not isinstance(data.responses, msgspec.UnsetType):
        await _check_responses(tx, runtime, review, data.responses)
        values["responses"] = msgspec.to_builtins(data.responses)
    if not isinstance(data.comment, msgspec.UnsetType):
        values["comment"] = data.comment
    if values:
        await _bump(tx, review, **values)
        await audit.record(tx, principal, "review.update", "review", review.id)
    return review


def responses_of(review: Review) -> Responses:
    return msgspec.convert(review.responses, Responses)


async def submit(
    tx: AsyncSession, runtime: Runtime, principal: Principal, review_id: uuid.UUID, if_match: str | None
) -> Review:
    review = await _own_draft(tx, principal, review_id, "submit")
    if if_match is not None:
        check_if_match(if_match, review.version)
    rubric = _installed(runtime, review)
    responses = responses_of(review)
    await _check_responses(tx, runtime, review, responses, complete=True)
    result = rubrics.score_responses(runtime.registry, rubric.key, rubric.version, responses, complete=True)
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    now = utcnow()
    await _bump(tx, review, state="submitted", submitted_at=now, result=msgspec.to_builtins(result))
    request = await repository.request_of(tx, review)
    if request is not None:
        await _set_request_state(tx, request, "done", expected=("in_progress",))
    if review.amends_id is not None:
        superseded = await tx.execute(
            update(Review)
            .where(Review.org_id == review.org_id, Review.id == review.amends_id, Review.superseded_by_id.is_(None))
            .values(superseded_by_id=review.id, updated_at=now, version=Review.version + 1)
            .execution_options(synchronize_session=False)
        )
        if superseded.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("The revision this amends was superseded meanwhile.")
    try:
        await aggregates.record_submission(tx, review, rubric, responses, result)
    except IntegrityError:
        # Two amendments of the same therapist's figures recomputing the same rollup rows at once.
        raise Conflict("Another submission changed the same figures at the same moment; retry.") from None
    await audit.record(tx, principal, "review.submit", "review", review.id)
    return review


async def amend(tx: AsyncSession, principal: Principal, review_id: uuid.UUID, data: AmendIn) -> Review:
    """A new draft revision of a submitted review, with the earlier responses, comment and annotations; it
    replaces the earlier revision once submitted. The earlier revision stays readable by its id."""
    earlier = await _visible_review(tx, principal, review_id, for_update=True)
    if earlier.reviewer_id != principal.member_id:
        raise Forbidden("Only the reviewer may amend this review.")
    if earlier.state == "draft":
        raise Conflict("The review is a draft: edit it instead of amending it.")
    if earlier.superseded_by_id is not None:
        raise Conflict(f"This revision was superseded by {earlier.superseded_by_id}; amend that one.")
    await _require_consent(tx, earlier)
    now = utcnow()
    review = Review(
        id=new_id(),
        org_id=earlier.org_id,
        recording_id=earlier.recording_id,
        therapist_id=earlier.therapist_id,
        reviewer_id=earlier.reviewer_id,
        request_id=None,
        role=earlier.role,
        rubric_key=earlier.rubric_key,
        rubric_version=earlier.rubric_version,
        state="draft",
        revision=earlier.revision + 1,
        amends_id=earlier.id,
        amend_reason=data.reason,
        responses=earlier.responses,
        comment=earlier.comment,
        version=1,
        created_at=now,
        updated_at=now,
    )
    tx.add(review)
    try:
        await tx.flush()
    except IntegrityError:
        raise Conflict("This revision already has an amendment in progress.") from None
    for annotation in await repository.annotations_of(tx, earlier.org_id, earlier.id):
        tx.add(
            Annotation(
                id=new_id(),
                org_id=annotation.org_id,
                review_id=review.id,
                start_ms=annotation.start_ms,
                end_ms=annotation.end_ms,
                item_key=annotation.item_key,
                kind=annotation.kind,
                text=annotation.text,
                created_at=annotation.created_at,
            )
        )
    await tx.flush()
    await audit.record(tx, principal, "review.amend", "review", review.id)
    return review


async def acknowledge(
    tx: AsyncSession, principal: Principal, review_id: uuid.UUID, data: AcknowledgeIn, if_match: str | None
) -> Review:
    review = await _visible_review(tx, principal, review_id, for_update=True)
    if review.therapist_id != principal.member_id:
        raise Forbidden("Only the therapist whose session was reviewed may acknowledge the review.")
    if if_match is not None:
        check_if_match(if_match, review.version)
    if review.role == "self":
        raise Conflict("A self-rating is not acknowledged; it is compared with the observers' ratings.")
    if review.state != "submitted":
        raise Conflict(f"The review is {review.state}; only a submitted review can be acknowledged.")
    if review.superseded_by_id is not None:
        raise Conflict(f"This revision was superseded by {review.superseded_by_id}; acknowledge that one.")
    await _bump(
        tx,
        review,
        state="acknowledged",
        acknowledged_at=utcnow(),
        acknowledgement=data.response,
        usefulness=data.usefulness,
    )
    await audit.record(tx, principal, "review.acknowledge", "review", review.id)
    return review


async def discard_review(tx: AsyncSession, principal: Principal, review_id: uuid.UUID, if_match: str | None) -> None:
    """Delete a draft and its annotations. A request it was started from is open again."""
    review = await _own_draft(tx, principal, review_id, "discard")
    if if_match is not None:
        check_if_match(if_match, review.version)
    request = await repository.request_of(tx, review)
    await _delete_draft(tx, review)
    if request is not None and request.state == "in_progress":
        await _set_request_state(tx, request, "open", expected=("in_progress",))
    await audit.record(tx, principal, "review.discard", "review", review.id)


async def _delete_draft(tx: AsyncSession, review: Review) -> None:
    """Delete a draft (locked by the caller) with its annotations."""
    deleted = await tx.execute(
        delete(Review)
        .where(Review.org_id == review.org_id, Review.id == review.id, Review.state == "draft")
        .execution_options(synchronize_session=False)
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The review was submitted meanwhile; it is no longer a draft.")
    await tx.execute(delete(Annotation).where(Annotation.org_id == review.org_id, Annotation.review_id == review.id))
    tx.expunge(review)


# --------------------------------------------------------------------------------------------- annotations


async def create_annotation(
    tx: AsyncSession, runtime: Runtime, principal: Principal, review_id: uuid.UUID, data: AnnotationCreate
) -> Annotation:
    review = await _own_draft(tx, principal, review_id, "annotate")
    recording = await _recording_of(tx, review)
    errors = []
    if data.start_ms >= recording.duration_ms:
        errors.append(FieldError("start_ms", f"beyond the recording ({recording.duration_ms} ms)"))
    if data.end_ms is not None and data.end_ms <= data.start_ms:
        errors.append(FieldError("end_ms", "must be after start_ms"))
    elif data.end_ms is not None and _beyond(recording, data.end_ms):
        errors.append(FieldError("end_ms", f"beyond the recording ({recording.duration_ms} ms)"))
    if data.item_key is not None and _installed(runtime, review).item(data.item_key) is None:
        errors.append(
            FieldError("item_key", f"{review.rubric_key} {review.rubric_version} has no item '{data.item_key}'")
        )
    if errors:
        raise Unprocessable("The annotation does not fit the recording or the rubric.", errors=errors)
    if await repository.annotation_count(tx, review.org_id, review.id) >= MAX_ANNOTATIONS:
        raise Conflict(f"A review holds at most {MAX_ANNOTATIONS} annotations.")
    annotation = Annotation(
        id=new_id(),
        org_id=review.org_id,
        review_id=review.id,
        start_ms=data.start_ms,
        end_ms=data.end_ms,
        item_key=data.item_key,
        kind=data.kind,
        text=data.text,
        created_at=utcnow(),
    )
    tx.add(annotation)
    await tx.flush()
    await audit.record(tx, principal, "annotation.create", "review", review.id)
    return annotation


async def list_annotations(tx: AsyncSession, principal: Principal, review_id: uuid.UUID) -> list[Annotation]:
    review = await _visible_review(tx, principal, review_id)
    annotations = await repository.annotations_of(tx, review.org_id, review.id)
    audit.record_read(tx, principal, "annotation.list", "review", review.id)
    return annotations


async def delete_annotation(
    tx: AsyncSession, principal: Principal, review_id: uuid.UUID, annotation_id: uuid.UUID
) -> None:
    review = await _own_draft(tx, principal, review_id, "annotate")
    annotation = await repository.get_annotation(tx, review.org_id, review.id, annotation_id)
    if annotation is None:
        raise NotFound("annotation")
    await tx.delete(annotation)
    await tx.flush()
    await audit.record(tx, principal, "annotation.delete", "review", review.id)
