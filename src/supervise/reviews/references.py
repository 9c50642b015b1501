"""Reference ("gold") reviews: an admin marks a submitted review of a recording consented for training, and
every other rater of that recording is calibrated against it (``GET /v1/aggregates/calibration``)."""

from __future__ import annotations

import uuid

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.errors import Conflict, NotFound
from supervise.reviews import repository, rules
from supervise.reviews.tables import ReferenceReview

__all__ = ["mark_reference", "unmark_reference"]


async def mark_reference(tx: Tx, principal: Principal, review_id: uuid.UUID) -> ReferenceReview:
    """Make a submitted, current review the reference for its recording and rubric version (admins). The
    recording must be consented for training (`supervision_and_training`)."""
    review = await rules.visible_review(tx, principal, review_id, for_update=True)
    if review.state == "draft" or review.superseded_by_id is not None:
        raise Conflict(problems.NOT_A_REFERENCE_CANDIDATE, "Only a submitted, current revision can be a reference.")
    if review.role not in ("supervisor", "peer"):
        raise Conflict(
            problems.NOT_A_REFERENCE_CANDIDATE,
            "Only an observer's review (a supervisor's or a peer's) can be a reference.",
        )
    recording = await rules.recording_of(tx, review)
    if recording.consent_scope != "supervision_and_training" or recording.consent_withdrawn_at is not None:
        raise Conflict(
            problems.TRAINING_CONSENT_MISSING,
            "The recording is not consented for training use (scope supervision_and_training).",
        )
    existing = await repository.reference_for(
        tx, review.org_id, review.recording_id, review.rubric_key, review.rubric_version
    )
    if existing is not None:
        raise Conflict(
            problems.REFERENCE_EXISTS,
            f"This recording already has a reference with this rubric version: review {existing.review_id}.",
            review_id=existing.review_id,
        )
    reference = ReferenceReview(
        org_id=review.org_id,
        review_id=review.id,
        recording_id=review.recording_id,
        rubric_key=review.rubric_key,
        rubric_version=review.rubric_version,
        marked_by_id=principal.member_id,
        created_at=utcnow(),
    )
    await db.insert(
        tx,
        reference,
        conflict=Conflict(
            problems.REFERENCE_EXISTS, "Another reference was marked for this recording at the same time."
        ),
    )
    await audit.record(tx, principal, "review.reference", "review", review.id)
    return reference


async def unmark_reference(tx: Tx, principal: Principal, review_id: uuid.UUID) -> None:
    review = await rules.visible_review(tx, principal, review_id, for_update=True)
    if not await repository.delete_reference(tx, review.org_id, review.id):
        raise NotFound("reference")
    await audit.record(tx, principal, "review.unreference", "review", review.id)
