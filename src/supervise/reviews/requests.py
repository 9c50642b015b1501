"""Review requests: assigning a recording to a reviewer in a role, with a rubric version pinned.

A supervisor of the therapist or an admin may assign any role; the therapist may ask for peer review (and
self-rating) of their own sessions. Reviewers must fit the role: ``supervisor`` a supervisor of the therapist,
``peer`` another active clinician, ``self`` the therapist. The rubric version is pinned when the request is
made.
"""

from __future__ import annotations

import datetime as dt
import uuid

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, Forbidden, NotFound
from supervise.events import service as events
from supervise.events.schemas import EventRubric, ReviewRequested
from supervise.members import service as members
from supervise.pagination import Page, PageRequest
from supervise.preconditions import check_if_match
from supervise.reviews import repository, rules
from supervise.reviews.repository import LIVE_REQUEST_STATES
from supervise.reviews.schemas import ReviewRequestCreate
from supervise.reviews.tables import ReviewRequest
from supervise.rubrics import service as rubrics
from supervise.runtime import Runtime

__all__ = ["ReviewRequest", "cancel_request", "create_request", "get_request", "list_requests", "review_ids"]


async def create_request(tx: Tx, runtime: Runtime, principal: Principal, data: ReviewRequestCreate) -> ReviewRequest:
    recording = await rules.reviewable(tx, principal, data.recording_id, "recording_id")
    therapist_id = recording.therapist_id
    is_therapist = principal.member_id == therapist_id
    if not (principal.is_admin or await rules.supervises(tx, principal, principal.member_id, therapist_id)):
        if not is_therapist:
            raise Forbidden(
                problems.NOT_PERMITTED,
                "Only a supervisor of the therapist or an admin may assign this recording for review.",
            )
        if data.role == "supervisor":
            raise Forbidden(
                problems.NOT_PERMITTED,
                "A therapist may ask for peer review or self-rating; supervisors assign supervisor review.",
            )
    reviewer = await members.find_member(tx, principal.org_id, data.reviewer_id)
    if reviewer is None:
        raise rules.invalid("The reviewer is not valid.", "reviewer_id", "no member with this id")
    if not reviewer.active:
        raise rules.invalid("The reviewer is not valid.", "reviewer_id", "not an active member")
    if data.role == "supervisor" and not await rules.supervises(tx, principal, reviewer.id, therapist_id):
        raise rules.invalid("The reviewer does not fit the role.", "reviewer_id", "not a supervisor of the therapist")
    if data.role == "peer":
        if reviewer.id == therapist_id:
            raise rules.invalid(
                "A peer may not review their own recording.", "reviewer_id", "is the therapist; use role 'self'"
            )
        if not reviewer.is_clinician:
            raise rules.invalid("The reviewer does not fit the role.", "reviewer_id", "peers are clinicians")
    if data.role == "self" and reviewer.id != therapist_id:
        raise rules.invalid(
            "The reviewer does not fit the role.", "reviewer_id", "a self-rating is the therapist's own"
        )
    rubric = rules.pin(
        runtime, data.rubric_key, data.rubric_version, data.role, key_field="rubric_key", version_field="rubric_version"
    )
    live = await repository.live_request(tx, principal.org_id, reviewer.id, recording.id, rubric.key)
    if live is not None:
        raise Conflict(
            problems.REQUEST_EXISTS,
            f"This reviewer already has an open request for this recording and rubric: {live.id}.",
            request_id=live.id,
        )
    if await repository.existing_review(tx, principal.org_id, recording.id, reviewer.id, rubric.key) is not None:
        raise Conflict(
            problems.REVIEW_EXISTS,
            "This reviewer already reviewed this recording with this rubric; amend that review instead.",
        )
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
    await db.insert(
        tx,
        request,
        conflict=Conflict(problems.REQUEST_EXISTS, "This reviewer was just given the same request by someone else."),
    )
    await audit.record(tx, principal, "review_request.create", "review_request", request.id)
    requested = ReviewRequested(
        review_request_id=request.id,
        recording_id=request.recording_id,
        therapist_id=request.therapist_id,
        reviewer_id=request.reviewer_id,
        role=request.role,
        rubric=EventRubric(key=request.rubric_key, version=request.rubric_version),
    )
    await events.record(tx, principal.org_id, requested)
    return request


async def get_request(tx: Tx, principal: Principal, request_id: uuid.UUID) -> ReviewRequest:
    request = await repository.get_request(tx, rules.viewer(principal), request_id)
    if request is None:
        raise NotFound("review request")
    audit.record_read(tx, principal, "review_request.read", "review_request", request.id)
    return request


async def list_requests(
    tx: Tx,
    runtime: Runtime,
    principal: Principal,
    page: PageRequest,
    *,
    reviewer_id: uuid.UUID | None,
    recording_id: uuid.UUID | None,
    state: str | None,
    updated_since: dt.datetime | None = None,
) -> Page[ReviewRequest]:
    result = await repository.page_requests(
        tx,
        rules.viewer(principal),
        page,
        runtime.cursors,
        reviewer_id=reviewer_id,
        recording_id=recording_id,
        state=state,
        updated_since=updated_since,
    )
    audit.record_read(tx, principal, "review_request.list", "review_request", None)
    return result


async def review_ids(tx: Tx, principal: Principal, requests: list[ReviewRequest]) -> dict[uuid.UUID, uuid.UUID]:
    """The review started from each of ``requests``, where there is one."""
    return await repository.review_ids_for_requests(tx, principal.org_id, [r.id for r in requests])


async def cancel_request(tx: Tx, principal: Principal, request_id: uuid.UUID, if_match: str | None) -> ReviewRequest:
    """By whoever assigned it, the reviewer (declining), a supervisor of the therapist, or an admin; while it
    is open or in progress. A draft started from it is discarded with it: an assignment that no longer
    exists leaves no half-done review behind (submitted reviews are never touched)."""
    request = await repository.get_request(tx, rules.viewer(principal), request_id)
    if request is None:
        raise NotFound("review request")
    allowed = (
        principal.is_admin
        or principal.member_id in (request.requested_by_id, request.reviewer_id)
        or await rules.supervises(tx, principal, principal.member_id, request.therapist_id)
    )
    if not allowed:
        raise Forbidden(
            problems.NOT_PERMITTED,
            "Only whoever assigned it, its reviewer, a supervisor of the therapist or an admin may cancel.",
        )
    if if_match is not None and if_match.strip():  # an empty If-Match is no precondition
        check_if_match(if_match, request.version)
    if request.state not in LIVE_REQUEST_STATES:
        raise Conflict(
            problems.REQUEST_CLOSED,
            f"The request is {request.state}; only open or in-progress requests can be cancelled.",
        )
    draft = await repository.draft_of_request(tx, request)
    if draft is not None:
        if not await repository.delete_draft(tx, draft):
            raise Conflict(problems.REVIEW_SUBMITTED, "The review was submitted meanwhile; it is no longer a draft.")
        await audit.record(tx, principal, "review.discard", "review", draft.id)
    await rules.set_request_state(tx, request, "cancelled", expected=LIVE_REQUEST_STATES)
    await audit.record(tx, principal, "review_request.cancel", "review_request", request.id)
    return request
