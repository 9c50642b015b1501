"""``/v1/reviews`` (with annotations) and ``/v1/recordings/{id}/reviews``; ``/v1/review-requests`` is in
``requests_api``."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import Made, Once, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import (
    ETAG,
    LOCATION,
    Cursor,
    IfMatch,
    Limit,
    MemberRef,
    RubricFilter,
    UpdatedSince,
    instant,
    member,
    page,
)
from supervise.preconditions import etag
from supervise.reviews import annotations as annotation_service
from supervise.reviews import references, service
from supervise.reviews.schemas import (
    AcknowledgeIn,
    AmendIn,
    AnnotationCreate,
    AnnotationList,
    AnnotationOut,
    ReferenceOut,
    ReviewCreate,
    ReviewFilter,
    ReviewOut,
    ReviewPage,
    ReviewRole,
    ReviewState,
    ReviewUpdate,
)
from supervise.reviews.service import Review
from supervise.runtime import Runtime

__all__ = ["ReviewController", "list_recording_reviews"]


def _with_etag(review: Review) -> Response[ReviewOut]:
    return Response(to(ReviewOut, review), headers={"ETag": etag(review.version)})


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
        data: JSONBody[ReviewCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[ReviewOut]:
        async def create() -> Made:
            review = await service.create_review(tx, runtime, principal, data)
            return Made(to(ReviewOut, review), f"/v1/reviews/{review.id}")

        return await once(data, create)

    @get(
        "/",
        operation_id="listReviews",
        permission=permissions.ReviewsRead,
        summary="List reviews",
        description="Current revisions you may see: your own; submitted reviews of your sessions, of your "
        "supervisees' sessions, and of sessions you reviewed yourself; admins see every review, drafts "
        "included. Blind review: while you still owe a first review of a recording (an open request or a "
        "first draft), you see no one else's review of it, whatever your role. `recording_id`: only that "
        "recording's (404 if you cannot see it). Audited.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def list_reviews(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        reviewer: MemberRef = None,
        therapist: MemberRef = None,
        recording_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this recording's.")] = None,
        state_filter: Annotated[
            ReviewState | None, QueryParameter(name="state", description="Only in this state.")
        ] = None,
        rubric: RubricFilter = None,
        role: Annotated[
            ReviewRole | None, QueryParameter(description="Only by this rater role (`client`: client ratings).")
        ] = None,
        updated_since: UpdatedSince = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ReviewPage:
        reviewer_id, therapist_id = member(reviewer, principal), member(therapist, principal)
        scope = f"reviews?{reviewer_id}&{therapist_id}&{recording_id}&{state_filter}&{rubric}&{role}&{updated_since}"
        where = ReviewFilter(
            recording_id=recording_id,
            reviewer_id=reviewer_id,
            therapist_id=therapist_id,
            state=state_filter,
            rubric_key=rubric,
            role=role,
            updated_since=instant(updated_since, "updated_since"),
        )
        found = await service.list_reviews(tx, runtime, principal, page(principal, scope, cursor, limit), where)
        return to(ReviewPage, found)

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
        tx: NamedDependency[Tx],
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
        tx: NamedDependency[Tx],
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
        tx: NamedDependency[Tx],
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
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
        if_match: IfMatch = None,
    ) -> Response[ReviewOut]:
        async def run() -> Made:
            return Made(to(ReviewOut, await service.submit(tx, runtime, principal, review_id, if_match)), status=200)

        return await once(None, run)

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
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AmendIn],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[ReviewOut]:
        async def create() -> Made:
            review = await service.amend(tx, runtime, principal, review_id, data)
            return Made(to(ReviewOut, review), f"/v1/reviews/{review.id}")

        return await once(data, create)

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
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AcknowledgeIn],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
        if_match: IfMatch = None,
    ) -> Response[ReviewOut]:
        async def run() -> Made:
            return Made(to(ReviewOut, await service.acknowledge(tx, principal, review_id, data, if_match)), status=200)

        return await once(data, run)

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
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
    ) -> Response[ReferenceOut]:
        async def create() -> Made:
            made = await references.mark_reference(tx, principal, review_id)
            return Made(to(ReferenceOut, made), f"/v1/reviews/{review_id}/reference")

        return await once(None, create)

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> None:
        await references.unmark_reference(tx, principal, review_id)

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
        review_id: FromPath[uuid.UUID],
        data: JSONBody[AnnotationCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[AnnotationOut]:
        async def create() -> Made:
            made = await annotation_service.create_annotation(tx, runtime, principal, review_id, data)
            return Made(to(AnnotationOut, made), f"/v1/reviews/{review_id}/annotations/{made.id}")

        return await once(data, create)

    @get(
        "/{review_id:uuid}/annotations",
        operation_id="listAnnotations",
        permission=permissions.ReviewsRead,
        summary="List a review's annotations in time order",
        description=f"All of them (a review holds at most {annotation_service.MAX_ANNOTATIONS}), by start then end.",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def list_annotations(
        self,
        review_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> AnnotationList:
        found = await annotation_service.list_annotations(tx, principal, review_id)
        return AnnotationList(items=to(list[AnnotationOut], found))

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> None:
        await annotation_service.delete_annotation(tx, principal, review_id, annotation_id)


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
    tx: NamedDependency[Tx],
    principal: NamedDependency[Principal],
    runtime: NamedDependency[Runtime],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ReviewPage:
    scope = f"recording-reviews?{recording_id}"
    where = ReviewFilter(recording_id=recording_id)
    found = await service.list_reviews(tx, runtime, principal, page(principal, scope, cursor, limit), where)
    return to(ReviewPage, found)
