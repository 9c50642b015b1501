"""HTTP for /v1/review-requests: assigning a recording to a reviewer (the rules are in ``requests``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from supervise.auth import permissions
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.http import Made, Once, With, problem_responses, to
from supervise.pagination import DEFAULT_LIMIT
from supervise.parameters import (
    ETAG,
    LOCATION,
    Cursor,
    IfMatch,
    Limit,
    MemberRef,
    UpdatedSince,
    instant,
    member,
    page,
)
from supervise.preconditions import etag
from supervise.reviews import requests
from supervise.reviews.requests import ReviewRequest
from supervise.reviews.schemas import (
    RequestState,
    ReviewRequestCreate,
    ReviewRequestOut,
    ReviewRequestPage,
)
from supervise.runtime import Runtime

__all__ = ["ReviewRequestController"]


def _requests_out(requests: list[ReviewRequest], reviews: dict[uuid.UUID, uuid.UUID]) -> list[ReviewRequestOut]:
    return [to(ReviewRequestOut, With(r, review_id=reviews.get(r.id))) for r in requests]


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
        data: JSONBody[ReviewRequestCreate],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        once: NamedDependency[Once],
    ) -> Response[ReviewRequestOut]:
        async def create() -> Made:
            made = await requests.create_request(tx, runtime, principal, data)
            return Made(to(ReviewRequestOut, With(made, review_id=None)), f"/v1/review-requests/{made.id}")

        return await once(data, create)

    @get(
        "/",
        operation_id="listReviewRequests",
        permission=permissions.ReviewsRead,
        summary="List review requests",
        description="Requests you may see: yours to do, those you assigned, those on your sessions, your "
        "supervisees'; admins see all. `reviewer=me&state=open` is your to-do list. Audited.",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def list_requests(
        self,
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        runtime: NamedDependency[Runtime],
        reviewer: MemberRef = None,
        recording_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this recording's.")] = None,
        state_filter: Annotated[
            RequestState | None, QueryParameter(name="state", description="Only in this state.")
        ] = None,
        updated_since: UpdatedSince = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ReviewRequestPage:
        reviewer_id = member(reviewer, principal)
        scope = f"review-requests?r={reviewer_id}&rec={recording_id}&s={state_filter}&u={updated_since}"
        found = await requests.list_requests(
            tx,
            runtime,
            principal,
            page(principal, scope, cursor, limit),
            reviewer_id=reviewer_id,
            recording_id=recording_id,
            state=state_filter,
            updated_since=instant(updated_since, "updated_since"),
        )
        reviews = await requests.review_ids(tx, principal, found.items)
        return to(ReviewRequestPage, With(found, items=_requests_out(found.items, reviews)))

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
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
    ) -> Response[ReviewRequestOut]:
        found = await requests.get_request(tx, principal, request_id)
        (out,) = _requests_out([found], await requests.review_ids(tx, principal, [found]))
        return Response(out, headers={"ETag": etag(found.version)})

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
        request_id: FromPath[uuid.UUID],
        tx: NamedDependency[Tx],
        principal: NamedDependency[Principal],
        once: NamedDependency[Once],
        if_match: IfMatch = None,
    ) -> Response[ReviewRequestOut]:
        async def cancel() -> Made:
            cancelled = await requests.cancel_request(tx, principal, request_id, if_match)
            (out,) = _requests_out([cancelled], await requests.review_ids(tx, principal, [cancelled]))
            return Made(out, status=200)

        return await once(None, cancel)
