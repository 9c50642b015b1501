"""Named queries over review requests, reviews, annotations and reference reviews, and the visibility rules
as SQL.

The rules live here once, as predicates, and serve both single reads and lists, so a review is never
listed to someone who would get 404 reading it (or the other way round). Other domains' repositories embed
them through :class:`Viewer` (``SHARED``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import aliased

from supervise.db import Tx, affected
from supervise.members.tables import Organisation, SupervisionLink
from supervise.pagination import CursorCodec, Page, PageRequest, changed_since, fetch_page
from supervise.recordings.tables import Recording
from supervise.reviews.schemas import ReviewFilter
from supervise.reviews.tables import Annotation, ReferenceReview, Review, ReviewRequest

__all__ = [
    "LIVE_REQUEST_STATES",
    "SHARED",
    "Viewer",
    "annotation_count",
    "annotations_of",
    "delete_annotation",
    "delete_draft",
    "delete_reference",
    "draft_of_request",
    "existing_review",
    "get_annotation",
    "get_request",
    "get_review",
    "live_request",
    "move_reference",
    "owed_therapists",
    "page_requests",
    "page_reviews",
    "reference_for",
    "request_of",
    "review_ids_for_requests",
    "supersede",
]

SHARED = ("Viewer",)
"""What other domains' repositories may embed (``tests/test_architecture.py``)."""

LIVE_REQUEST_STATES = ("open", "in_progress")

# The viewer's own rows, correlated against the row being judged. Made once: building an alias proxies every
# column, which cost more than the query itself when it happened on every request.
_own_request = aliased(ReviewRequest, name="own_request")
_own_review = aliased(Review, name="own_review")


class Viewer:
    """Who is looking: visibility predicates for one member at one moment.

    The predicates are large (blinding alone is two correlated subqueries), and SQLAlchemy builds and cache-keys
    an expression in time proportional to its size: built per request, that was a third of a review's read. So
    the statements that embed them are built once, from :meth:`parametrised` viewers whose organisation, member
    and moment are bound parameters, and run with :attr:`params`.
    """

    def __init__(
        self,
        org_id: uuid.UUID | BindParameter[uuid.UUID],
        member_id: uuid.UUID | BindParameter[uuid.UUID],
        *,
        is_admin: bool,
        now: dt.datetime | BindParameter[dt.datetime],
    ) -> None:
        self.org_id = org_id
        self.member_id = member_id
        self.is_admin = is_admin
        self.now = now

    @classmethod
    def parametrised(cls, *, is_admin: bool) -> Viewer:
        """A viewer whose predicates take the organisation, member and moment from :attr:`params`."""
        return cls(bindparam("viewer_org"), bindparam("viewer_member"), is_admin=is_admin, now=bindparam("viewer_now"))

    @property
    def params(self) -> dict[str, Any]:
        """The values for a statement built from :meth:`parametrised`."""
        return {"viewer_org": self.org_id, "viewer_member": self.member_id, "viewer_now": self.now}

    def supervises(self, therapist_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        return exists().where(
            SupervisionLink.org_id == self.org_id,
            SupervisionLink.supervisor_id == self.member_id,
            SupervisionLink.supervisee_id == therapist_id,
        )

    def consent_active(self, recording_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        return exists().where(
            Recording.org_id == self.org_id,
            Recording.id == recording_id,
            Recording.consent_holds(cast("dt.datetime", self.now)),  # the SQL rule takes a bound moment as well
        )

    def blinded(self, recording_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        """The viewer still owes a first review of this recording: a live request, or a first draft."""
        own_request, own_review = _own_request, _own_review
        return or_(
            exists().where(
                own_request.org_id == self.org_id,
                own_request.recording_id == recording_id,
                own_request.reviewer_id == self.member_id,
                own_request.state.in_(LIVE_REQUEST_STATES),
            ),
            exists().where(
                own_review.org_id == self.org_id,
                own_review.recording_id == recording_id,
                own_review.reviewer_id == self.member_id,
                own_review.state == "draft",
                own_review.revision == 1,
            ),
        )

    def submitted_own(self, recording_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        own_review = _own_review
        return exists().where(
            own_review.org_id == self.org_id,
            own_review.recording_id == recording_id,
            own_review.reviewer_id == self.member_id,
            own_review.state != "draft",
        )

    def peers_see_client_ratings(self) -> ColumnElement[bool]:
        return exists().where(Organisation.id == self.org_id, Organisation.client_ratings_to_peers)

    def may_see_review(self) -> ColumnElement[bool]:
        """Own reviews (while the recording may be served to its reviewers); others' only once submitted and
        never while the viewer still owes a first review of the same recording (blind review): the therapist
        of the recording, a supervisor of the therapist, or a reviewer who submitted their own (client ratings:
        not a peer, unless the organisation allows it). Admins see
        all but are blinded like anyone else when they review."""
        own = Review.reviewer_id == self.member_id
        if self.is_admin:
            return or_(own, ~self.blinded(Review.recording_id))
        therapist = Review.therapist_id == self.member_id
        consent = self.consent_active(Review.recording_id)
        # A peer who submitted their own review sees the others' — a client rating only where the
        # organisation lets peers see client ratings.
        peer = and_(
            or_(Review.role != "client", self.peers_see_client_ratings()), self.submitted_own(Review.recording_id)
        )
        observer = and_(consent, or_(self.supervises(Review.therapist_id), peer))
        return or_(
            and_(own, or_(therapist, consent)),
            and_(Review.state != "draft", ~self.blinded(Review.recording_id), or_(therapist, observer)),
        )

    def may_see_request(self) -> ColumnElement[bool]:
        """The therapist of the recording; while consent lasts, the reviewer, whoever assigned it and the
        therapist's supervisors. Admins: all."""
        if self.is_admin:
            return true()
        involved = or_(
            ReviewRequest.reviewer_id == self.member_id,
            ReviewRequest.requested_by_id == self.member_id,
            self.supervises(ReviewRequest.therapist_id),
        )
        return or_(
            ReviewRequest.therapist_id == self.member_id,
            and_(self.consent_active(ReviewRequest.recording_id), involved),
        )


# ------------------------------------------------------------------------------------------------ requests


async def get_request(tx: Tx, viewer: Viewer, request_id: uuid.UUID) -> ReviewRequest | None:
    return await tx.scalar(
        select(ReviewRequest).where(
            ReviewRequest.org_id == viewer.org_id, ReviewRequest.id == request_id, viewer.may_see_request()
        )
    )


async def request_of(tx: Tx, review: Review) -> ReviewRequest | None:
    """The request a review was started from (whoever may see the review may act on this link)."""
    if review.request_id is None:
        return None
    return await tx.scalar(
        select(ReviewRequest).where(ReviewRequest.org_id == review.org_id, ReviewRequest.id == review.request_id)
    )


async def live_request(
    tx: Tx, org_id: uuid.UUID, reviewer_id: uuid.UUID, recording_id: uuid.UUID, rubric_key: str
) -> ReviewRequest | None:
    """The reviewer's open or in-progress request for this recording and rubric, if any."""
    return await tx.scalar(
        select(ReviewRequest).where(
            ReviewRequest.org_id == org_id,
            ReviewRequest.reviewer_id == reviewer_id,
            ReviewRequest.recording_id == recording_id,
            ReviewRequest.rubric_key == rubric_key,
            ReviewRequest.state.in_(LIVE_REQUEST_STATES),
        )
    )


async def draft_of_request(tx: Tx, request: ReviewRequest) -> Review | None:
    """The draft started from ``request``, locked (PostgreSQL) before the request is changed: every path that
    changes both takes the review first, then the request, so they cannot deadlock."""
    return await tx.scalar(
        select(Review)
        .where(Review.org_id == request.org_id, Review.request_id == request.id, Review.state == "draft")
        .with_for_update()
    )


async def page_requests(
    tx: Tx,
    viewer: Viewer,
    page: PageRequest,
    cursors: CursorCodec,
    *,
    reviewer_id: uuid.UUID | None,
    recording_id: uuid.UUID | None,
    state: str | None,
    updated_since: dt.datetime | None = None,
) -> Page[ReviewRequest]:
    stmt = select(ReviewRequest).where(ReviewRequest.org_id == viewer.org_id, viewer.may_see_request())
    if reviewer_id is not None:
        stmt = stmt.where(ReviewRequest.reviewer_id == reviewer_id)
    if recording_id is not None:
        stmt = stmt.where(ReviewRequest.recording_id == recording_id)
    if state is not None:
        stmt = stmt.where(ReviewRequest.state == state)
    stmt, order = changed_since(stmt, ReviewRequest.created_at, ReviewRequest.updated_at, updated_since)
    return await fetch_page(tx, stmt, order, ReviewRequest.id, page, cursors)


async def review_ids_for_requests(
    tx: Tx, org_id: uuid.UUID, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    if not request_ids:
        return {}
    rows = await tx.execute(
        select(Review.request_id, Review.id).where(Review.org_id == org_id, Review.request_id.in_(request_ids))
    )
    return {request_id: review_id for request_id, review_id in rows if request_id is not None}


# ------------------------------------------------------------------------------------------------- reviews


def _review_by_id(*, is_admin: bool, for_update: bool) -> Select[Review]:
    viewer = Viewer.parametrised(is_admin=is_admin)
    stmt = select(Review).where(
        Review.org_id == viewer.org_id, Review.id == bindparam("review_id"), viewer.may_see_review()
    )
    return stmt.with_for_update(of=Review) if for_update else stmt


_REVIEW_BY_ID = {(a, u): _review_by_id(is_admin=a, for_update=u) for a in (False, True) for u in (False, True)}
_CURRENT_REVIEWS = {
    is_admin: select(Review).where(
        Review.org_id == bindparam("viewer_org"),
        Review.superseded_by_id.is_(None),
        Viewer.parametrised(is_admin=is_admin).may_see_review(),
    )
    for is_admin in (False, True)
}


async def get_review(tx: Tx, viewer: Viewer, review_id: uuid.UUID, *, for_update: bool = False) -> Review | None:
    stmt = _REVIEW_BY_ID[(viewer.is_admin, for_update)]
    review: Review | None = await tx.scalar(stmt, {**viewer.params, "review_id": review_id})
    return review


async def page_reviews(
    tx: Tx, viewer: Viewer, page: PageRequest, cursors: CursorCodec, where: ReviewFilter
) -> Page[Review]:
    """Current revisions only: a superseded revision is read by its id."""
    stmt = _CURRENT_REVIEWS[viewer.is_admin]
    for column, value in (
        (Review.recording_id, where.recording_id),
        (Review.reviewer_id, where.reviewer_id),
        (Review.therapist_id, where.therapist_id),
        (Review.state, where.state),
        (Review.rubric_key, where.rubric_key),
        (Review.role, where.role),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if where.received_from is not None:
        stmt = stmt.where(Review.received_at >= where.received_from)
    if where.received_before is not None:
        # a row is created before (or as) it is received: the bound lets the scan stop early
        stmt = stmt.where(Review.received_at < where.received_before, Review.created_at < where.received_before)
    stmt, order = changed_since(stmt, Review.created_at, Review.updated_at, where.updated_since)
    return await fetch_page(tx, stmt, order, Review.id, page, cursors, params=viewer.params)


async def existing_review(
    tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, reviewer_id: uuid.UUID, rubric_key: str
) -> Review | None:
    """The reviewer's current review of this recording with this rubric, whoever may see it."""
    return await tx.scalar(
        select(Review).where(
            Review.org_id == org_id,
            Review.superseded_by_id.is_(None),
            Review.recording_id == recording_id,
            Review.reviewer_id == reviewer_id,
            Review.rubric_key == rubric_key,
        )
    )


async def amendment_of(tx: Tx, review: Review) -> uuid.UUID | None:
    """The draft amending this revision, if one is in progress."""
    return await tx.scalar(
        select(Review.id).where(Review.org_id == review.org_id, Review.amends_id == review.id, Review.state == "draft")
    )


async def delete_draft(tx: Tx, review: Review) -> bool:
    """Delete a draft (locked by the caller) with its annotations; False if it is no longer a draft."""
    deleted = await tx.execute(
        delete(Review)
        .where(Review.org_id == review.org_id, Review.id == review.id, Review.state == "draft")
        .execution_options(synchronize_session=False)
    )
    if affected(deleted) != 1:
        return False
    await tx.execute(delete(Annotation).where(Annotation.org_id == review.org_id, Annotation.review_id == review.id))
    tx.expunge(review)
    return True


async def supersede(tx: Tx, org_id: uuid.UUID, earlier_id: uuid.UUID, by: uuid.UUID, now: dt.datetime) -> bool:
    """Mark the revision ``earlier_id`` as replaced by ``by``; False if another revision replaced it first."""
    superseded = await tx.execute(
        update(Review)
        .where(Review.org_id == org_id, Review.id == earlier_id, Review.superseded_by_id.is_(None))
        .values(superseded_by_id=by, updated_at=now, version=Review.version + 1)
        .execution_options(synchronize_session=False)
    )
    return affected(superseded) == 1


async def owed_therapists(tx: Tx, org_id: uuid.UUID, member_id: uuid.UUID, now: dt.datetime) -> set[uuid.UUID]:
    """Therapists of whose sessions ``member_id`` still owes a first review (a live request or a first
    draft) that can still be given: blind review keeps their figures from this member until it is submitted.
    A session whose consent ended can no longer be reviewed, so it no longer blinds anyone."""
    consented = exists().where(Recording.org_id == org_id, Recording.consent_holds(now))
    requested = select(ReviewRequest.therapist_id).where(
        ReviewRequest.org_id == org_id,
        ReviewRequest.reviewer_id == member_id,
        ReviewRequest.state.in_(LIVE_REQUEST_STATES),
        consented.where(Recording.id == ReviewRequest.recording_id),
    )
    drafting = select(Review.therapist_id).where(
        Review.org_id == org_id,
        Review.reviewer_id == member_id,
        Review.state == "draft",
        Review.revision == 1,
        consented.where(Recording.id == Review.recording_id),
    )
    return set((await tx.scalars(requested.union(drafting))).all())


# --------------------------------------------------------------------------------------------- annotations


async def annotations_of(tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID) -> list[Annotation]:
    rows = await tx.scalars(
        select(Annotation)
        .where(Annotation.org_id == org_id, Annotation.review_id == review_id)
        .order_by(Annotation.start_ms, Annotation.end_ms.nulls_first(), Annotation.created_at, Annotation.id)
    )
    return list(rows.all())


async def annotation_count(tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID) -> int:
    count = await tx.scalar(select(func.count()).where(Annotation.org_id == org_id, Annotation.review_id == review_id))
    return int(count or 0)


async def get_annotation(
    tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID, annotation_id: uuid.UUID
) -> Annotation | None:
    return await tx.scalar(
        select(Annotation).where(
            Annotation.org_id == org_id, Annotation.review_id == review_id, Annotation.id == annotation_id
        )
    )


async def delete_annotation(tx: Tx, annotation: Annotation) -> None:
    await tx.delete(annotation)
    await tx.flush()


# ----------------------------------------------------------------------------------------------- references


async def reference_for(
    tx: Tx, org_id: uuid.UUID, recording_id: uuid.UUID, rubric_key: str, rubric_version: str
) -> ReferenceReview | None:
    return await tx.scalar(
        select(ReferenceReview).where(
            ReferenceReview.org_id == org_id,
            ReferenceReview.recording_id == recording_id,
            ReferenceReview.rubric_key == rubric_key,
            ReferenceReview.rubric_version == rubric_version,
        )
    )


async def move_reference(tx: Tx, org_id: uuid.UUID, earlier_id: uuid.UUID, to: uuid.UUID) -> bool:
    """Make the revision ``to`` the reference where its earlier revision ``earlier_id`` was; False if that was
    no reference."""
    moved = await tx.execute(
        update(ReferenceReview)
        .where(ReferenceReview.org_id == org_id, ReferenceReview.review_id == earlier_id)
        .values(review_id=to)
        .execution_options(synchronize_session=False)
    )
    return affected(moved) == 1


async def delete_reference(tx: Tx, org_id: uuid.UUID, review_id: uuid.UUID) -> bool:
    deleted = await tx.execute(
        delete(ReferenceReview).where(ReferenceReview.org_id == org_id, ReferenceReview.review_id == review_id)
    )
    return affected(deleted) == 1
