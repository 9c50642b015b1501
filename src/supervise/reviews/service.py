"""The review workflow: who may review, see and answer what, and in which order.

- A **review** starts from a request (by its reviewer, see :mod:`.requests`) or directly (by a supervisor of
  the therapist, or by the therapist rating their own session). Drafts are saved under ``If-Match`` and
  validated against the rubric on every save; ``submit`` scores them and makes them immutable; ``amend`` opens a
  new revision with a reason; the therapist ``acknowledge``\\ s observer reviews with a usefulness rating and an
  optional answer.
- **Visibility** is in :mod:`supervise.reviews.repository` (one predicate for reads and lists): blind until
  one's own review is submitted; drafts are their author's (and admins'); consent that expired or was
  withdrawn hides the recording and its reviews from everyone but the therapist and admins.

Every write is audited in its transaction; every read is noted and audited once that transaction has
committed, before the answer is sent (``supervise.audit``). Submitting files the scores and updates the
rollups in the same transaction (``supervise.scores``).

Other domains read reviews through :func:`viewer`, :func:`owed_therapists` and :func:`visible_review`; client
ratings (``supervise.client_ratings``) are stored through :func:`record_client_rating`.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from supervise.events import service as events
from supervise.events.schemas import EventRubric, ReviewAcknowledged, ReviewAmended, ReviewSubmitted
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.recordings import service as recordings
from supervise.recordings.service import Recording
from supervise.reviews import repository, rules
from supervise.reviews.repository import Viewer
from supervise.reviews.schemas import AcknowledgeIn, AmendIn, ReviewCreate, ReviewFilter, ReviewUpdate
from supervise.reviews.tables import Annotation, Review, ReviewerRole, ReviewRequest
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import Responses, Rubric
from supervise.runtime import Runtime
from supervise.scores import service as scores

__all__ = [
    "Review",
    "acknowledge",
    "amend",
    "create_review",
    "discard_review",
    "get_review",
    "list_reviews",
    "owed_therapists",
    "pin_client_rubric",
    "record_client_rating",
    "responses_of",
    "submit",
    "update_review",
    "viewer",
    "visible_review",
]


async def create_review(tx: Tx, runtime: Runtime, principal: Principal, data: ReviewCreate) -> Review:
    request: ReviewRequest | None = None
    role: ReviewerRole
    if data.request_id is not None:
        extra = [f for f in ("recording_id", "rubric_key", "rubric_version") if getattr(data, f) is not None]
        if extra:
            raise Unprocessable(
                problems.INVALID_VALUE,
                "A review started from a request takes the recording and rubric from the request.",
                errors=[FieldError(f, "not allowed with request_id") for f in extra],
            )
        request = await repository.get_request(tx, rules.viewer(principal), data.request_id)
        if request is None:
            raise rules.invalid("The review is not valid.", "request_id", "no review request with this id")
        if request.reviewer_id != principal.member_id:
            raise Forbidden(problems.NOT_PERMITTED, "Only the request's reviewer may start its review.")
        if request.state != "open":
            started = await repository.review_ids_for_requests(tx, principal.org_id, [request.id])
            detail = f": review {started[request.id]}" if request.id in started else ""
            raise Conflict(
                problems.REQUEST_CLOSED,
                f"The request is {request.state}; a review starts from an open request{detail}.",
                review_id=started.get(request.id),
            )
        recording = await rules.reviewable(tx, principal, request.recording_id, "request_id")
        role, key, version = request.role, request.rubric_key, request.rubric_version
        rubric = rules.pin(runtime, key, version, role, key_field="request_id", version_field="request_id")
    else:
        missing = [f for f in ("recording_id", "rubric_key") if getattr(data, f) is None]
        if missing:
            raise Unprocessable(
                problems.INVALID_VALUE,
                "Give request_id, or recording_id and rubric_key.",
                errors=[FieldError(f, "required without request_id") for f in missing],
            )
        assert data.recording_id is not None and data.rubric_key is not None
        recording = await rules.reviewable(tx, principal, data.recording_id, "recording_id")
        if recording.therapist_id == principal.member_id:
            role = "self"
        elif await rules.supervises(tx, principal, principal.member_id, recording.therapist_id):
            role = "supervisor"
        else:
            raise Forbidden(
                problems.NOT_PERMITTED,
                "Without a request, only a supervisor of the therapist or the therapist may review a recording.",
            )
        rubric = rules.pin(
            runtime, data.rubric_key, data.rubric_version, role, key_field="rubric_key", version_field="rubric_version"
        )
    existing = await repository.existing_review(tx, principal.org_id, recording.id, principal.member_id, rubric.key)
    if existing is not None:
        if existing.state == "draft":
            raise Conflict(
                problems.DRAFT_EXISTS,
                f"You already review this recording with this rubric: draft {existing.id}.",
                draft_id=existing.id,
            )
        raise Conflict(
            problems.REVIEW_EXISTS,
            f"You already reviewed this recording with this rubric: review {existing.id}; amend it instead.",
            review_id=existing.id,
        )
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
    conflict = Conflict(
        problems.DRAFT_EXISTS, "You started the same review at the same time from another request; use that one."
    )
    await db.insert(tx, review, conflict=conflict)
    if request is not None:
        await rules.set_request_state(tx, request, "in_progress", expected=("open",))
    await audit.record(tx, principal, "review.create", "review", review.id)
    return review


async def get_review(tx: Tx, principal: Principal, review_id: uuid.UUID) -> Review:
    review = await rules.visible_review(tx, principal, review_id)
    audit.record_read(tx, principal, "review.read", "review", review.id)
    return review


async def list_reviews(
    tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest, where: ReviewFilter
) -> Page[Review]:
    if where.recording_id is not None and await recordings.visible_recording(tx, principal, where.recording_id) is None:
        raise NotFound("recording")
    result = await repository.page_reviews(tx, rules.viewer(principal), page, runtime.cursors, where)
    audit.record_read(tx, principal, "review.list", "review", None)
    return result


async def update_review(
    tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID, data: ReviewUpdate, if_match: str | None
) -> Review:
    review = await rules.own_draft(tx, principal, review_id, "edit")
    check_if_match(if_match, review.version)
    changes: dict[str, object] = {}
    if not isinstance(data.responses, msgspec.UnsetType):
        await rules.check_responses(tx, runtime, review, data.responses)
        changes["responses"] = msgspec.to_builtins(data.responses)
    if not isinstance(data.comment, msgspec.UnsetType):
        changes["comment"] = data.comment
    if changes:
        await rules.touch(tx, review, **changes)
        await audit.record(tx, principal, "review.update", "review", review.id)
    return review


def responses_of(review: Review) -> Responses:
    return msgspec.convert(review.responses, Responses)


async def submit(tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID, if_match: str | None) -> Review:
    review = await rules.own_draft(tx, principal, review_id, "submit")
    if if_match is not None and if_match.strip():  # an empty If-Match is no precondition
        check_if_match(if_match, review.version)
    rubric = rules.installed(runtime, review)
    responses = responses_of(review)
    await rules.check_responses(tx, runtime, review, responses, complete=True)
    result = rubrics.score_responses(runtime.registry, rubric.key, rubric.version, responses, complete=True)
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    now = utcnow()
    await rules.touch(tx, review, state="submitted", submitted_at=now, result=msgspec.to_builtins(result))
    request = await repository.request_of(tx, review)
    if request is not None:
        await rules.set_request_state(tx, request, "done", expected=("in_progress",))
    if review.amends_id is not None and not await repository.supersede(
        tx, review.org_id, review.amends_id, review.id, now
    ):
        raise Conflict(problems.SUPERSEDED, "The revision this amends was superseded meanwhile.")
    # A reference stays one through its amendments: calibration then reads the revision that stands.
    followed = review.amends_id is not None and await repository.move_reference(
        tx, review.org_id, review.amends_id, review.id
    )
    # Two amendments of the same therapist's figures recomputing the same rollup rows at once: 409, retry.
    await db.guarded(
        scores.record_submission(tx, review, rubric, responses, result),
        conflict=Conflict(
            problems.CONCURRENT_WRITE, "Another submission changed the same figures at the same moment; retry."
        ),
    )
    await audit.record(tx, principal, "review.submit", "review", review.id)
    await events.record(tx, review.org_id, _submitted(review))
    if followed:
        await audit.record(tx, principal, "review.reference_followed", "review", review.id)
    return review


def _submitted(review: Review) -> ReviewSubmitted | ReviewAmended:
    """The event of a submission: ``review.submitted`` for a first revision, ``review.amended`` for one that
    replaces an earlier revision."""
    assert review.reviewer_id is not None  # a member's review, not a client rating
    rubric = EventRubric(key=review.rubric_key, version=review.rubric_version)
    ids = (review.id, review.recording_id, review.therapist_id, review.reviewer_id)
    if review.amends_id is None:
        return ReviewSubmitted(
            review_id=ids[0],
            recording_id=ids[1],
            therapist_id=ids[2],
            reviewer_id=ids[3],
            role=review.role,
            rubric=rubric,
        )
    return ReviewAmended(
        review_id=ids[0],
        recording_id=ids[1],
        therapist_id=ids[2],
        reviewer_id=ids[3],
        role=review.role,
        rubric=rubric,
        replaces_id=review.amends_id,
        revision=review.revision,
    )


async def amend(tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID, data: AmendIn) -> Review:
    """A new draft revision of a submitted review, with the earlier responses, comment and annotations; it
    replaces the earlier revision once submitted. The earlier revision stays readable by its id."""
    earlier = await rules.visible_review(tx, principal, review_id, for_update=True)
    if earlier.role == "client":
        raise Conflict(problems.NOT_FOR_THIS_ROLE, "A client rating is not amended: it is what the client answered.")
    if earlier.reviewer_id != principal.member_id:
        raise Forbidden(problems.NOT_PERMITTED, "Only the reviewer may amend this review.")
    if earlier.state == "draft":
        raise Conflict(problems.REVIEW_NOT_SUBMITTED, "The review is a draft: edit it instead of amending it.")
    if earlier.superseded_by_id is not None:
        raise Conflict(
            problems.SUPERSEDED,
            f"This revision was superseded by {earlier.superseded_by_id}; amend that one.",
            superseded_by_id=earlier.superseded_by_id,
        )
    await rules.require_consent(tx, earlier)
    draft = await repository.amendment_of(tx, earlier)
    if draft is not None:
        raise Conflict(
            problems.DRAFT_EXISTS, f"This revision already has an amendment in progress: draft {draft}.", draft_id=draft
        )
    rules.installed(runtime, earlier)  # an amendment of a version no longer installed could never be submitted
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
    await db.insert(
        tx, review, conflict=Conflict(problems.DRAFT_EXISTS, "This revision already has an amendment in progress.")
    )
    copies = [
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
        for annotation in await repository.annotations_of(tx, earlier.org_id, earlier.id)
    ]
    if copies:
        await db.insert(
            tx,
            *copies,
            conflict=Conflict(problems.CONCURRENT_WRITE, "The annotations changed while this amendment ran; retry."),
        )
    await audit.record(tx, principal, "review.amend", "review", review.id)
    return review


async def acknowledge(
    tx: Tx, principal: Principal, review_id: uuid.UUID, data: AcknowledgeIn, if_match: str | None
) -> Review:
    review = await rules.visible_review(tx, principal, review_id, for_update=True)
    if review.therapist_id != principal.member_id:
        raise Forbidden(
            problems.NOT_PERMITTED, "Only the therapist whose session was reviewed may acknowledge the review."
        )
    if if_match is not None and if_match.strip():  # an empty If-Match is no precondition
        check_if_match(if_match, review.version)
    if review.role == "self":
        raise Conflict(
            problems.NOT_FOR_THIS_ROLE, "A self-rating is not acknowledged; it is compared with the observers' ratings."
        )
    if review.role == "client":
        raise Conflict(
            problems.NOT_FOR_THIS_ROLE,
            "A client rating is the client's voice, not feedback to the therapist; it is not acknowledged.",
        )
    if review.state == "acknowledged":
        raise Conflict(problems.ALREADY_ACKNOWLEDGED, "The review was acknowledged already.")
    if review.state != "submitted":
        raise Conflict(
            problems.REVIEW_NOT_SUBMITTED, f"The review is {review.state}; only a submitted review can be acknowledged."
        )
    if review.superseded_by_id is not None:
        raise Conflict(
            problems.SUPERSEDED,
            f"This revision was superseded by {review.superseded_by_id}; acknowledge that one.",
            superseded_by_id=review.superseded_by_id,
        )
    await rules.touch(
        tx, review, state="acknowledged", acknowledged_at=utcnow(), response=data.response, usefulness=data.usefulness
    )
    await audit.record(tx, principal, "review.acknowledge", "review", review.id)
    assert review.reviewer_id is not None  # a client rating is never acknowledged
    acknowledged = ReviewAcknowledged(
        review_id=review.id,
        recording_id=review.recording_id,
        therapist_id=review.therapist_id,
        reviewer_id=review.reviewer_id,
        rubric=EventRubric(key=review.rubric_key, version=review.rubric_version),
    )
    await events.record(tx, review.org_id, acknowledged)
    return review


async def discard_review(tx: Tx, principal: Principal, review_id: uuid.UUID, if_match: str | None) -> None:
    """Delete a draft and its annotations. A request it was started from is open again."""
    review = await rules.own_draft(tx, principal, review_id, "discard")
    if if_match is not None and if_match.strip():  # an empty If-Match is no precondition
        check_if_match(if_match, review.version)
    request = await repository.request_of(tx, review)
    if not await repository.delete_draft(tx, review):
        raise Conflict(problems.REVIEW_SUBMITTED, "The review was submitted meanwhile; it is no longer a draft.")
    if request is not None and request.state == "in_progress":
        await rules.set_request_state(tx, request, "open", expected=("in_progress",))
    await audit.record(tx, principal, "review.discard", "review", review.id)


# ----------------------------------------------------------------------------------- for other domains


async def record_client_rating(
    tx: Tx,
    runtime: Runtime,
    recording: Recording,
    rubric: Rubric,
    responses: Responses,
    completed_at: dt.datetime,
) -> Review:
    """Store a client's completed form as a submitted review with role ``client`` and no reviewer: validated
    (complete, as a submission), scored and filed with the session's scores and flags like any review, in the
    caller's transaction (which audits it). ``rubric`` is rated by clients (:func:`rules.pin`)."""
    now = utcnow()
    review = Review(
        id=new_id(),
        org_id=recording.org_id,
        recording_id=recording.id,
        therapist_id=recording.therapist_id,
        reviewer_id=None,
        request_id=None,
        role="client",
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        state="submitted",
        revision=1,
        responses=msgspec.to_builtins(responses),
        comment=None,
        submitted_at=completed_at,
        version=1,
        created_at=now,
        updated_at=now,
    )
    await rules.check_responses(tx, runtime, review, responses, complete=True)
    result = rubrics.score_responses(runtime.registry, rubric.key, rubric.version, responses, complete=True)
    review.result = msgspec.to_builtins(result)
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    await db.insert(
        tx,
        review,
        conflict=Conflict(problems.ALREADY_RATED, "This session was rated by its client at the same moment; retry."),
    )
    await db.guarded(
        scores.record_submission(tx, review, rubric, responses, result),
        conflict=Conflict(
            problems.CONCURRENT_WRITE, "Another submission changed the same figures at the same moment; retry."
        ),
    )
    return review


def pin_client_rubric(runtime: Runtime, key: str, version: str | None) -> Rubric:
    """The installed rubric ``key`` at ``version`` (latest when ``None``) if clients rate with it; 422 naming
    ``rubric_key`` or ``rubric_version`` otherwise."""
    return rules.pin(runtime, key, version, "client", key_field="rubric_key", version_field="rubric_version")


def viewer(principal: Principal) -> Viewer:
    """What ``principal`` may see of reviews, for queries that count only readable reviews (blind review,
    drafts, consent: the rules of ``GET /v1/reviews``)."""
    return rules.viewer(principal)


async def owed_therapists(tx: Tx, principal: Principal) -> set[uuid.UUID]:
    """Therapists of whose sessions ``principal`` still owes a first review (blind review hides their figures)."""
    return await repository.owed_therapists(tx, principal.org_id, principal.member_id, utcnow())


async def visible_review(tx: Tx, principal: Principal, review_id: uuid.UUID, *, for_update: bool = False) -> Review:
    """The review if ``principal`` may see it (404 otherwise), without auditing the read."""
    return await rules.visible_review(tx, principal, review_id, for_update=for_update)
