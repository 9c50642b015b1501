"""Rules the review workflow's operations share: what may be reviewed, with which rubric, by whom, and the
guarded changes of a review or a request."""

from __future__ import annotations

import uuid
from typing import Any

from supervise import db, problems
from supervise.auth.principal import Principal
from supervise.clock import utcnow
from supervise.db import Tx
from supervise.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RubricNotInstalled,
    Unprocessable,
)
from supervise.members import service as members
from supervise.problems import ProblemType
from supervise.recordings import service as recordings
from supervise.recordings.service import Recording
from supervise.reviews import repository
from supervise.reviews.repository import Viewer
from supervise.reviews.tables import RequestState, Review, ReviewRequest
from supervise.rubrics.model import Responses, Rubric
from supervise.runtime import Runtime

__all__ = [
    "check_responses",
    "installed",
    "invalid",
    "own_draft",
    "pin",
    "recording_of",
    "require_consent",
    "reviewable",
    "set_request_state",
    "supervises",
    "touch",
    "viewer",
    "visible_review",
]


def viewer(principal: Principal) -> Viewer:
    return Viewer(principal.org_id, principal.member_id, is_admin=principal.is_admin, now=utcnow())


def invalid(message: str, field: str, problem: str, kind: ProblemType = problems.INVALID_REFERENCE) -> Unprocessable:
    """422 naming ``field``: by default, an id that names nothing the caller can use there."""
    return Unprocessable(kind, message, errors=[FieldError(field, problem)])


async def supervises(tx: Tx, principal: Principal, supervisor_id: uuid.UUID, therapist_id: uuid.UUID) -> bool:
    return await members.supervises(tx, principal.org_id, supervisor_id, therapist_id)


async def reviewable(tx: Tx, principal: Principal, recording_id: uuid.UUID, field: str) -> Recording:
    """A recording the caller may see and that may be reviewed now (consent for supervision use is active)."""
    recording = await recordings.visible_recording(tx, principal, recording_id)
    if recording is None:
        raise invalid("The request names no recording you can see.", field, "no recording with this id")
    if not recording.consent_holds(utcnow()):
        raise Conflict(
            problems.CONSENT_ENDED,
            "The recording may not be reviewed: consent for supervision use has expired or was withdrawn.",
            errors=[FieldError(field, "consent for supervision use is not active")],
        )
    return recording


async def recording_of(tx: Tx, review: Review) -> Recording:
    return await recordings.recording_of(tx, review.org_id, review.recording_id)


def pin(runtime: Runtime, key: str, version: str | None, role: str, *, key_field: str, version_field: str) -> Rubric:
    """The installed rubric ``key`` at ``version`` (latest when ``None``), rated by ``role``."""
    rubric = runtime.registry.latest(key) if version is None else runtime.registry.get(key, version)
    if rubric is None:
        if runtime.registry.latest(key) is None:
            raise invalid(
                "The rubric is not installed.", key_field, f"no installed rubric '{key}'", problems.RUBRIC_UNKNOWN
            )
        raise invalid(
            "The rubric version is not installed.",
            version_field,
            f"{key} has no installed version {version}",
            problems.RUBRIC_UNKNOWN,
        )
    if role not in rubric.rater_roles:
        roles = ", ".join(rubric.rater_roles)
        raise invalid(
            "The rubric is not rated by this role.",
            "role",
            f"{rubric.key} {rubric.version} is rated by: {roles}",
            problems.RUBRIC_UNKNOWN,
        )
    return rubric


def installed(runtime: Runtime, review: Review) -> Rubric:
    rubric = runtime.registry.get(review.rubric_key, review.rubric_version)
    if rubric is None:
        raise RubricNotInstalled(
            f"The review's rubric {review.rubric_key} {review.rubric_version} is no longer installed here; "
            "reinstall the plugin version that provides it."
        )
    return rubric


async def visible_review(tx: Tx, principal: Principal, review_id: uuid.UUID, *, for_update: bool = False) -> Review:
    """The review if ``principal`` may see it. ``for_update`` locks its row (PostgreSQL) so that a change
    racing this one (a submit against an annotation, two amendments) waits and then sees the outcome."""
    review = await repository.get_review(tx, viewer(principal), review_id, for_update=for_update)
    if review is None:
        raise NotFound("review")
    return review


async def own_draft(tx: Tx, principal: Principal, review_id: uuid.UUID, action: str) -> Review:
    review = await visible_review(tx, principal, review_id, for_update=True)
    if review.reviewer_id != principal.member_id:
        raise Forbidden(problems.NOT_PERMITTED, f"Only the reviewer may {action} this review.")
    if review.state != "draft":
        raise Conflict(
            problems.REVIEW_SUBMITTED,
            f"The review is {review.state}: submitted reviews are immutable; amend it instead.",
        )
    if action != "discard":
        await require_consent(tx, review)
    return review


async def require_consent(tx: Tx, review: Review) -> None:
    """No review work on a session whose consent for supervision use has ended (discarding a draft is fine).
    Other reviewers no longer see such a review at all; this also holds the therapist's own self-rating."""
    if not (await recording_of(tx, review)).consent_holds(utcnow()):
        raise Conflict(
            problems.CONSENT_ENDED, "Consent for supervision use of this recording has expired or was withdrawn."
        )


async def check_responses(
    tx: Tx, runtime: Runtime, review: Review, responses: Responses, *, complete: bool = False
) -> None:
    """Against the rubric (``complete``: every required item answered) and the recording's length; 422 naming
    each fault as ``responses.<path>``, as a draft save names it."""
    rubric = installed(runtime, review)
    faults = [
        FieldError(f"responses.{field}", message) for field, message in rubric.validate(responses, complete=complete)
    ]
    if responses.segments:
        recording = await recording_of(tx, review)
        faults += [
            FieldError(f"responses.segments[{i}]", f"ends after the recording ({recording.duration_ms} ms)")
            for i, segment in enumerate(responses.segments)
            if segment.end_ms > recording.duration_ms
        ]
    if faults:
        raise Unprocessable(
            problems.RESPONSES_INVALID, f"The responses do not fit {rubric.key} {rubric.version}.", errors=faults
        )


async def touch(tx: Tx, review: Review, **changes: Any) -> None:
    """Write ``changes`` if the review is still at the version read. Callers hold the row lock, so this guards
    rather than decides; a lost race is a 412 for the version the caller saw."""
    stale = PreconditionFailed("The review changed while this request ran; read it again and retry.")
    await db.update(tx, review, changes, stale=stale)


async def set_request_state(tx: Tx, request: ReviewRequest, state: RequestState, *, expected: tuple[str, ...]) -> None:
    """Move a request to ``state`` from one of the ``expected`` states, if nobody changed it since it was read."""
    changed = Conflict(problems.CONCURRENT_WRITE, "The review request changed while this ran; read it again.")
    if request.state not in expected:
        raise changed
    await db.update(tx, request, {"state": state}, stale=changed)
