"""``/v1/review-requests``, ``/v1/reviews`` (with annotations) and ``/v1/recordings/{id}/reviews``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from supervise.aggregates import service as aggregates
from supervise.aggregates.schemas import ReferenceOut
from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.http import create_once, problem_responses
from supervise.idempotency.service import StoredResponse
from supervise.pagination import DEFAULT_LIMIT, PageRequest
from supervise.parameters import ETAG, LOCATION, Cursor, IdempotencyKey, IfMatch, Limit, MemberRef, member
from supervise.preconditions import etag
from supervise.reviews import service
from supervise.reviews.schemas import (
    AcknowledgeIn,
    Acknowledgement,
    AmendIn,
    AnnotationCreate,
    AnnotationList,
    AnnotationOut,
    RequestState,
    ReviewCreate,
    ReviewerRole,
    ReviewOut,
    ReviewPage,
    ReviewRequestCreate,
    ReviewRequestOut,
    ReviewRequestPage,
    ReviewResult,
    ReviewState,
    ReviewUpdate,
    RubricPin,
)
from supervise.reviews.tables import Annotation, Review, ReviewRequest
from supervise.rubrics.model import Flag
from supervise.runtime import Runtime

__all__ = ["LINKS", "ReviewController", "ReviewRequestController", "list_recording_reviews"]

_ID = "$response.body#/id"
_REVIEW = {"review_id": _ID}
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str], dict[str, str] | None]]] = {
    # (operation, status) -> link name -> (target operation, path parameters, request body fields)
    ("createCase", "201"): {"record": ("createRecording", {}, {"case_id": _ID})},
    ("createRecording", "201"): {
        "assign": ("createReviewRequest", {}, {"recording_id": _ID}),
        "review": ("createReview", {}, {"recording_id": _ID}),
        "reviews": ("listRecordingReviews", {"recording_id": _ID}, None),
    },
    ("createReviewRequest", "201"): {
        "start": ("createReview", {}, {"request_id": _ID}),
        "get": ("getReviewRequest", {"request_id": _ID}, None),
        "cancel": ("cancelReviewRequest", {"request_id": _ID}, None),
    },
    **{
        (operation, status): {
            "get": ("getReview", _REVIEW, None),
            "save": ("updateReview", _REVIEW, None),
            "annotate": ("createAnnotation", _REVIEW, None),
            "annotations": ("listAnnotations", _REVIEW, None),
            "submit": ("submitReview", _REVIEW, None),
            "discard": ("discardReview", _REVIEW, None),
        }
        for operation, status in (("createReview", "201"), ("amendReview", "201"), ("updateReview", "200"))
    },
    ("submitReview", "200"): {
        "get": ("getReview", _REVIEW, None),
        "acknowledge": ("acknowledgeReview", _REVIEW, None),
        "amend": ("amendReview", _REVIEW, None),
    },
    ("createAnnotation", "201"): {
        "delete": ("deleteAnnotation", {"review_id": "$request.path.review_id", "annotation_id": _ID}, None),
    },
}
"""How the review workflow's operations feed each other, as OpenAPI links (clients and stateful tests follow
them from creation to use)."""

RubricFilter = Annotated[
    str | None, QueryParameter(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", description="Only this rubric (key).")
]


def request_out(request: ReviewRequest, review_id: uuid.UUID | None) -> ReviewRequestOut:
    return ReviewRequestOut(
        id=request.id,
        recording_id=request.recording_id,
        therapist_id=request.therapist_id,
        reviewer_id=request.reviewer_id,
        requested_by_id=request.requested_by_id,
        role=request.role,  # type: ignore[arg-type]
        rubric=RubricPin(key=request.rubric_key, version=request.rubric_version),
        due_on=request.due_on,
        note=request.note,
        state=request.state,  # type: ignore[arg-type]
        review_id=review_id,
        version=request.version,
        created_at=request.created_at,
        updated_at=request.updated_at,
    )


def review_out(review: Review) -> ReviewOut:
    result = None
    if review.result is not None:
        result = ReviewResult(
            scores=review.result["scores"], flags=msgspec.convert(review.result.get("flags", []), list[Flag])
        )
    acknowledgement = None
    if review.acknowledged_at is not None and review.usefulness is not None:
        acknowledgement = Acknowledgement(
            at=review.acknowledged_at, usefulness=review.usefulness, response=review.acknowledgement
        )
    return ReviewOut(
        id=review.id,
        recording_id=review.recording_id,
        therapist_id=review.therapist_id,
        reviewer_id=review.reviewer_id,
        request_id=review.request_id,
        role=review.role,  # type: ignore[arg-type]
        rubric=RubricPin(key=review.rubric_key, version=review.rubric_version),
        state=review.state,  # type: ignore[arg-type]
        revision=review.revision,
        amends_id=review.amends_id,
        amend_reason=review.amend_reason,
        superseded_by_id=review.superseded_by_id,
        responses=service.responses_of(review),
        comment=review.comment,
        result=result,
        submitted_at=review.submitted_at,
        acknowledgement=acknowledgement,
        version=review.version,
        created_at=review.created_at,
        updated_at=review.updated_at,
    )


def annotation_out(annotation: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=annotation.id,
        review_id=annotation.review_id,
        start_ms=annotation.start_ms,
        end_ms=annotation.end_ms,
        kind=annotation.kind,  # type: ignore[arg-type]
        text=annotation.text,
        item_key=annotation.item_key,
        created_at=annotation.created_at,
    )


def _with_etag(review: Review) -> Response[ReviewOut]:
    return Response(review_out(review), headers={"ETag": etag(review.version)})


class ReviewRequestController(Controller):
    path = "/v1/review-requests"
    tags = ["Reviews"]

    @post(
        "/",
        operation_id="createReviewRequest",
        permission=permissions.ReviewsWrite,
        summary="Assign a recording for review",
        description="By a supervisor of the therapist or an admin; a therapist may ask for peer review (or a "
        "self-rating) of their own sessions. The reviewer must fit the role (`supervisor`: a supervisor of the "
        "therapist; `peer`: another active clinician; `self`: the therapist), the rubric must be rated by that "
        "role, and consent for supervision use must be active. The rubric version is pinned now: the latest "
        "installed unless `rubric_version` is given.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_request(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ReviewRequestCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReviewRequestOut]:
        async def create() -> StoredResponse:
            made = await service.create_request(tx, runtime, principal, data)
            body = msgspec.json.encode(request_out(made, None))
            return StoredResponse(201, body, f"/v1/review-requests/{made.id}")

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @get(
        "/",
        operation_id="listReviewRequests",
        permission=permissions.ReviewsRead,
        summary="List review requests",
        description="Requests you may see: yours to do, those you assigned, those on your sessions, your "
        "supervisees'; admins see all. `reviewer=me&state=open` is your to-do list. Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_requests(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        reviewer: MemberRef = None,
        recording_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this recording's.")] = None,
        state_filter: Annotated[
            RequestState | None, QueryParameter(name="state", description="Only in this state.")
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ReviewRequestPage:
        reviewer_id = member(reviewer, principal)
        scope = f"review-requests?r={reviewer_id}&rec={recording_id}&s={state_filter}"
        page_request = PageRequest(org_id=principal.org_id, scope=scope, cursor=cursor, limit=limit)
        page = await service.list_requests(
            tx, runtime, principal, page_request, reviewer_id=reviewer_id, recording_id=recording_id, state=state_filter
        )
        reviews = await service.request_review_ids(tx, principal, page.items)
        return ReviewRequestPage(
            items=[request_out(r, reviews.get(r.id)) for r in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/{request_id:uuid}",
        operation_id="getReviewRequest",
        permission=permissions.ReviewsRead,
        summary="Get a review request",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_request(
        self,
        request_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[ReviewRequestOut]:
        found = await service.get_request(tx, principal, request_id)
        reviews = await service.request_review_ids(tx, principal, [found])
        return Response(request_out(found, reviews.get(found.id)), headers={"ETag": etag(found.version)})

    @post(
        "/{request_id:uuid}/cancel",
        operation_id="cancelReviewRequest",
        permission=permissions.ReviewsWrite,
        summary="Cancel (or, as its reviewer, decline) a review request",
        description="While it is open or in progress; by whoever assigned it, its reviewer, a supervisor of "
        "the therapist or an admin. A draft started from it is discarded with it. `If-Match` is "
        "optional; when sent it must be current.",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def cancel_request(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response[ReviewRequestOut]:
        async def cancel() -> StoredResponse:
            cancelled = await service.cancel_request(tx, principal, request_id, if_match)
            reviews = await service.request_review_ids(tx, principal, [cancelled])
            return StoredResponse(200, msgspec.json.encode(request_out(cancelled, reviews.get(cancelled.id))), None)

        return await create_once(request, None, tx, principal, idempotency_key, cancel)


class ReviewController(Controller):
    path = "/v1/reviews"
    tags = ["Reviews"]

    @post(
        "/",
        operation_id="createReview",
        permission=permissions.ReviewsWrite,
        summary="Start a review (a draft)",
        description="From a request (`request_id`, by its reviewer), or directly (`recording_id` and "
        "`rubric_key`): a supervisor of the therapist reviews as `supervisor`, the therapist rates their own "
        "session as `self`. One review per reviewer, recording and rubric; corrections are amendments.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_review(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ReviewCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReviewOut]:
        async def create() -> StoredResponse:
            review = await service.create_review(tx, runtime, principal, data)
            return StoredResponse(201, msgspec.json.encode(review_out(review)), f"/v1/reviews/{review.id}")

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @get(
        "/",
        operation_id="listReviews",
        permission=permissions.ReviewsRead,
        summary="List reviews",
        description="Current revisions you may see: your own; submitted reviews of your sessions, of your "
        "supervisees' sessions, and of sessions you reviewed yourself; admins see every review, drafts "
        "included. Blind review: while you still owe a first review of a recording (an open request or a "
        "first draft), you see no one else's review of it, whatever your role. Audited.",
        responses=problem_responses(400, 401, 403),
    )
    async def list_reviews(
        self,
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        reviewer: MemberRef = None,
        therapist: MemberRef = None,
        state_filter: Annotated[
            ReviewState | None, QueryParameter(name="state", description="Only in this state.")
        ] = None,
        rubric: RubricFilter = None,
        role: Annotated[ReviewerRole | None, QueryParameter(description="Only by this rater role.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ReviewPage:
        reviewer_id, therapist_id = member(reviewer, principal), member(therapist, principal)
        scope = f"reviews?r={reviewer_id}&t={therapist_id}&s={state_filter}&k={rubric}&o={role}"
        page_request = PageRequest(org_id=principal.org_id, scope=scope, cursor=cursor, limit=limit)
        page = await service.list_reviews(
            tx,
            runtime,
            principal,
            page_request,
            reviewer_id=reviewer_id,
            therapist_id=therapist_id,
            state=state_filter,
            rubric_key=rubric,
            role=role,
        )
        return ReviewPage(items=[review_out(r) for r in page.items], next_cursor=page.next_cursor)

    @get(
        "/{review_id:uuid}",
        operation_id="getReview",
        permission=permissions.ReviewsRead,
        summary="Get a review (any revision)",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_review(
        self,
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Response[ReviewOut]:
        return _with_etag(await service.get_review(tx, principal, review_id))

    @patch(
        "/{review_id:uuid}",
        operation_id="updateReview",
        permission=permissions.ReviewsWrite,
        summary="Save a draft",
        description="By its reviewer, under `If-Match`. `responses` replaces the saved responses and is "
        "validated against the rubric on every save (an unknown item or an out-of-range value is a 422 "
        "naming the item and the range); a partial set is fine until submission.",
        response_headers=[ETAG],
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 428),
    )
    async def update_review(
        self,
        review_id: FromPath[uuid.UUID],
        data: JSONBody[ReviewUpdate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        if_match: IfMatch = None,
    ) -> Response[ReviewOut]:
        return _with_etag(await service.update_review(tx, runtime, principal, review_id, data, if_match))

    @delete(
        "/{review_id:uuid}",
        operation_id="discardReview",
        permission=permissions.ReviewsWrite,
        summary="Discard a draft",
        description="By its reviewer; submitted reviews are never deleted. A request it was started from is "
        "open again.",
        responses=problem_responses(400, 401, 403, 404, 409, 412),
    )
    async def discard_review(
        self,
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        if_match: IfMatch = None,
    ) -> None:
        await service.discard_review(tx, principal, review_id, if_match)

    @post(
        "/{review_id:uuid}/submit",
        operation_id="submitReview",
        permission=permissions.ReviewsWrite,
        summary="Submit a draft: score it and make it immutable",
        description="Runs the rubric's scoring and stores the scores and flags. An incomplete draft is a 422 "
        "listing every missing item (`responses.items.<key>`). Not once consent for the recording has ended "
        "(409). `If-Match` is optional; when sent it must be current. A 500 names a plugin that failed "
        "while scoring; nothing is stored.",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422, 500),
    )
    async def submit_review(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response[ReviewOut]:
        async def run() -> StoredResponse:
            review = await service.submit(tx, runtime, principal, review_id, if_match)
            return StoredResponse(200, msgspec.json.encode(review_out(review)), None)

        return await create_once(request, None, tx, principal, idempotency_key, run)

    @post(
        "/{review_id:uuid}/amend",
        operation_id="amendReview",
        permission=permissions.ReviewsWrite,
        summary="Correct a submitted review: a new draft revision",
        description="By its reviewer, with a reason. The new revision starts with the earlier responses, "
        "comment and annotations and replaces the earlier one when submitted; the earlier revision stays "
        "readable by its id.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def amend_review(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AmendIn],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReviewOut]:
        async def create() -> StoredResponse:
            review = await service.amend(tx, principal, review_id, data)
            return StoredResponse(201, msgspec.json.encode(review_out(review)), f"/v1/reviews/{review.id}")

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @post(
        "/{review_id:uuid}/acknowledge",
        operation_id="acknowledgeReview",
        permission=permissions.ReviewsWrite,
        summary="Acknowledge feedback on your session, and answer it",
        description="By the therapist whose session was reviewed: how useful the feedback was (1-5) and an "
        "optional response. Self-ratings are not acknowledged.",
        status_code=200,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def acknowledge_review(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AcknowledgeIn],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response[ReviewOut]:
        async def run() -> StoredResponse:
            review = await service.acknowledge(tx, principal, review_id, data, if_match)
            return StoredResponse(200, msgspec.json.encode(review_out(review)), None)

        return await create_once(request, data, tx, principal, idempotency_key, run)

    @post(
        "/{review_id:uuid}/reference",
        operation_id="markReferenceReview",
        permission=permissions.ReferencesAdmin,
        summary="Make a review the reference for calibrating raters (admins)",
        description="A submitted, current review of a recording consented for training "
        '(`supervision_and_training`) becomes the reference ("gold") for that recording and rubric version; '
        "`GET /v1/aggregates/calibration` compares every other rater of the recording with it. One per "
        "recording and rubric version.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def mark_reference(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReferenceOut]:
        async def create() -> StoredResponse:
            made = await aggregates.mark_reference(tx, principal, review_id)
            body = ReferenceOut(
                review_id=made.review_id,
                recording_id=made.recording_id,
                rubric=RubricPin(key=made.rubric_key, version=made.rubric_version),
                marked_by_id=made.marked_by_id,
                created_at=made.created_at,
            )
            return StoredResponse(201, msgspec.json.encode(body), f"/v1/reviews/{review_id}/reference")

        return await create_once(request, None, tx, principal, idempotency_key, create)

    @delete(
        "/{review_id:uuid}/reference",
        operation_id="unmarkReferenceReview",
        permission=permissions.ReferencesAdmin,
        summary="Stop using a review as a reference (admins)",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def unmark_reference(
        self,
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> None:
        await aggregates.unmark_reference(tx, principal, review_id)

    @post(
        "/{review_id:uuid}/annotations",
        operation_id="createAnnotation",
        permission=permissions.ReviewsWrite,
        summary="Pin a comment to a moment of the recording",
        description="On a draft, by its reviewer. `start_ms` (and `end_ms`) must lie within the recording; "
        "`item_key`, when given, names the rubric item the annotation is evidence for.",
        status_code=201,
        response_headers=[LOCATION],
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def create_annotation(
        self,
        request: Request[Any, Any, Any],
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AnnotationCreate],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AnnotationOut]:
        async def create() -> StoredResponse:
            made = await service.create_annotation(tx, runtime, principal, review_id, data)
            location = f"/v1/reviews/{review_id}/annotations/{made.id}"
            return StoredResponse(201, msgspec.json.encode(annotation_out(made)), location)

        return await create_once(request, data, tx, principal, idempotency_key, create)

    @get(
        "/{review_id:uuid}/annotations",
        operation_id="listAnnotations",
        permission=permissions.ReviewsRead,
        summary="List a review's annotations in time order",
        description=f"All of them (a review holds at most {service.MAX_ANNOTATIONS}), by start then end.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def list_annotations(
        self,
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> AnnotationList:
        annotations = await service.list_annotations(tx, principal, review_id)
        return AnnotationList(items=[annotation_out(a) for a in annotations])

    @delete(
        "/{review_id:uuid}/annotations/{annotation_id:uuid}",
        operation_id="deleteAnnotation",
        permission=permissions.ReviewsWrite,
        summary="Remove an annotation from a draft",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def delete_annotation(
        self,
        review_id: FromPath[uuid.UUID],
        annotation_id: FromPath[uuid.UUID],
        tx: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.delete_annotation(tx, principal, review_id, annotation_id)


@get(
    "/v1/recordings/{recording_id:uuid}/reviews",
    operation_id="listRecordingReviews",
    permission=permissions.ReviewsRead,
    summary="List the reviews of a recording",
    description="The current revisions you may see, by the rules of `GET /v1/reviews`. Audited.",
    tags=["Reviews"],
    responses=problem_responses(400, 401, 403, 404),
)
async def list_recording_reviews(
    recording_id: FromPath[uuid.UUID],
    tx: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    runtime: NamedDependency[Runtime],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ReviewPage:
    page_request = PageRequest(
        org_id=principal.org_id, scope=f"recording-reviews?{recording_id}", cursor=cursor, limit=limit
    )
    page = await service.list_reviews(tx, runtime, principal, page_request, recording_id=recording_id)
    return ReviewPage(items=[review_out(r) for r in page.items], next_cursor=page.next_cursor)
