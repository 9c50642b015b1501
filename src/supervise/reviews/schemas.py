"""Review requests, reviews and annotations in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated

import msgspec

from supervise.reviews.tables import AnnotationKind, RequestState, ReviewerRole, ReviewRole, ReviewState
from supervise.rubrics.model import Flag, Responses

__all__ = [
    "AcknowledgeIn",
    "Acknowledgement",
    "AmendIn",
    "AnnotationCreate",
    "AnnotationKind",
    "AnnotationList",
    "AnnotationOut",
    "ReferenceOut",
    "RequestState",
    "ReviewCreate",
    "ReviewFilter",
    "ReviewOut",
    "ReviewPage",
    "ReviewRequestCreate",
    "ReviewRequestOut",
    "ReviewRequestPage",
    "ReviewResult",
    "ReviewRole",
    "ReviewState",
    "ReviewUpdate",
    "ReviewerRole",
    "RubricKey",
    "RubricPin",
    "RubricVersion",
]


# Free text may span lines; no other control characters (PostgreSQL refuses NUL), and something visible.
_LINE = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_TEXT = rf"^{_LINE}*[^\x00-\x20\x7f]{_LINE}*$"


def Text(max_length: int, example: str) -> msgspec.Meta:
    return msgspec.Meta(min_length=1, max_length=max_length, pattern=_TEXT, examples=[example])


RubricKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$", examples=["wai-o-s"])]
RubricVersion = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$", examples=["1.0"])]
ItemKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["bond"])]
Millis = Annotated[int, msgspec.Meta(ge=0, le=86_400_000)]
# The same range for an optional field: Litestar drops a falsy bound (ge=0) from ``X | None`` schemas.
OptionalMillis = Annotated[int, msgspec.Meta(gt=-1, le=86_400_000)] | None


class RubricPin(msgspec.Struct, kw_only=True):
    key: str
    version: str


class ReviewRequestCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    recording_id: uuid.UUID
    reviewer_id: uuid.UUID
    role: ReviewerRole
    """`supervisor`: a supervisor of the therapist; `peer`: another clinician; `self`: the therapist."""
    rubric_key: RubricKey
    rubric_version: RubricVersion | None = None
    """Pinned at creation: the latest installed version unless one is given."""
    due_on: dt.date | None = None
    note: Annotated[str, Text(2000, "Please look at the rupture around minute 31.")] | None = None


class ReviewRequestOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID
    requested_by_id: uuid.UUID
    role: ReviewerRole
    rubric: RubricPin
    due_on: dt.date | None
    note: str | None
    state: RequestState
    review_id: uuid.UUID | None
    """The review started from this request, once there is one."""
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewRequestPage(msgspec.Struct, kw_only=True):
    items: list[ReviewRequestOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class ReviewCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Either ``request_id`` (the request's reviewer starts it) or ``recording_id`` with ``rubric_key`` (a
    supervisor of the therapist reviewing directly, or the therapist rating their own session)."""

    request_id: uuid.UUID | None = None
    recording_id: uuid.UUID | None = None
    rubric_key: RubricKey | None = None
    rubric_version: RubricVersion | None = None


class ReviewUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A draft save. ``responses`` replaces the draft's responses as a whole; ``comment`` replaces the comment
    (``null`` clears it); a field left out is kept."""

    responses: Responses | msgspec.UnsetType = msgspec.UNSET
    comment: Annotated[str, Text(20000, "A warm, collaborative session.")] | msgspec.UnsetType | None = msgspec.UNSET


class AmendIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, Text(2000, "Item 'task' was scored on the wrong scale end.")]


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    usefulness: Annotated[int, msgspec.Meta(ge=1, le=5, examples=[4])]
    """How useful the feedback was to the therapist, 1 (not at all) to 5 (very)."""
    response: Annotated[str, Text(20_000, "Thank you; I noticed the rupture too.")] | None = None


class ReviewResult(msgspec.Struct, kw_only=True):
    scores: dict[str, float | None]
    flags: list[Flag]
    not_applicable: list[str] = []
    """Session items whose answers carry no information here (3RS's, when no rupture was coded): they are
    kept in the responses but counted in no aggregate."""


class Acknowledgement(msgspec.Struct, kw_only=True):
    at: dt.datetime
    usefulness: int
    response: str | None


class ReviewOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID | None
    """The member who reviewed; null for a client rating (role `client`): the client is no member."""
    request_id: uuid.UUID | None
    role: ReviewRole
    rubric: RubricPin
    state: ReviewState
    revision: int
    amends_id: uuid.UUID | None
    """The earlier revision this one corrects."""
    amend_reason: str | None
    superseded_by_id: uuid.UUID | None
    """The submitted revision that replaced this one; lists show only reviews not superseded."""
    responses: Responses
    comment: str | None
    result: ReviewResult | None
    """Scores and flags computed by the rubric at submission."""
    submitted_at: dt.datetime | None
    acknowledgement: Acknowledgement | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ReviewPage(msgspec.Struct, kw_only=True):
    items: list[ReviewOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class AnnotationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    start_ms: Millis
    end_ms: OptionalMillis = None
    kind: AnnotationKind
    text: Annotated[str, Text(4000, "Therapist names the withdrawal and invites the client back.")]
    item_key: ItemKey | None = None
    """The rubric item this annotation is evidence for."""


class AnnotationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    review_id: uuid.UUID
    start_ms: int
    end_ms: int | None
    kind: AnnotationKind
    text: str
    item_key: str | None
    created_at: dt.datetime


class AnnotationList(msgspec.Struct, kw_only=True):
    items: list[AnnotationOut]
    """In time order (start, then end)."""


class ReferenceOut(msgspec.Struct, kw_only=True):
    review_id: uuid.UUID
    recording_id: uuid.UUID
    rubric: RubricPin
    marked_by_id: uuid.UUID
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """Which reviews a list shows (besides who may see them); ``None``: any."""

    recording_id: uuid.UUID | None = None
    reviewer_id: uuid.UUID | None = None
    therapist_id: uuid.UUID | None = None
    state: str | None = None
    rubric_key: str | None = None
    role: str | None = None
    received_from: dt.datetime | None = None
    """Received at or after: a member's submission, or a client rating's arrival, not the ``completed_at`` it
    gives (drafts have neither, so either bound leaves them out)."""
    received_before: dt.datetime | None = None
    updated_since: dt.datetime | None = None
    """Changed at or after: then oldest change first."""
