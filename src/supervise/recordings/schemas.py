"""Cases and recordings in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from supervise.bodies import DocumentedAs
from supervise.problem_details import Problem

__all__ = [
    "MAX_BATCH",
    "CaseCreate",
    "CaseOut",
    "CasePage",
    "ConsentIn",
    "ConsentOut",
    "MediaRef",
    "RecordedSession",
    "RecordingBatch",
    "RecordingBatchItem",
    "RecordingBatchItemResult",
    "RecordingBatchResult",
    "RecordingCreate",
    "RecordingFilter",
    "RecordingOut",
    "RecordingPage",
    "RecordingUpdate",
]

# A clinic's pseudonymous reference: no spaces, so a name cannot slip in as "Jane Doe".
Ref = Annotated[
    str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", examples=["C-2024-0173"])
]
Medium = Literal["video", "audio", "transcript"]
ConsentScope = Literal["supervision", "supervision_and_training"]


class CaseCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    therapist_id: uuid.UUID
    external_ref: Ref
    """The clinic's pseudonymous reference for the client of this dyad. Never a name."""


class CaseOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    therapist_id: uuid.UUID
    external_ref: str
    created_at: dt.datetime


class CasePage(msgspec.Struct, kw_only=True):
    items: list[CaseOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class MediaRef(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where the media is and what it hashes to. The media itself never reaches this service."""

    uri: Annotated[
        str,
        msgspec.Meta(
            max_length=2048,
            pattern=r"^[a-z][a-z0-9+.-]*://[^\x00-\x20\x7f]+$",
            examples=["s3://clinic-recordings/2026/11/session-0173.mp4"],
        ),
    ]
    sha256: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[0-9a-f]{64}$", examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
        ),
    ]


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    scope: ConsentScope
    expires_at: dt.datetime | None = None


class ConsentOut(msgspec.Struct, kw_only=True):
    scope: ConsentScope
    expires_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    active: bool
    """False once expired or withdrawn: the recording and its reviews are no longer served to reviewers."""


class RecordedSession(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a recording says of its session, whichever way its case is named."""

    occurred_at: dt.datetime
    session_number: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    duration_ms: Annotated[int, msgspec.Meta(ge=1, le=86_400_000)]
    medium: Medium
    media: MediaRef
    consent: ConsentIn


class RecordingCreate(RecordedSession, forbid_unknown_fields=True, kw_only=True):
    case_id: uuid.UUID
    external_id: Ref | None = None
    """The clinic system's id: pushing the same recording again returns the same resource."""


class RecordingUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Consent changes. Withdrawal is final: a withdrawn recording cannot be consented again."""

    consent_scope: ConsentScope | None = None
    consent_expires_at: dt.datetime | None = None
    withdraw_consent: bool = False
    """``true`` withdraws consent for supervision use, for good; ``false`` (the default) changes nothing."""


class RecordingOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    case_id: uuid.UUID
    therapist_id: uuid.UUID
    occurred_at: dt.datetime
    session_number: int
    duration_ms: int
    medium: Medium
    media: MediaRef
    consent: ConsentOut
    external_id: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


MAX_BATCH = 500
"""Most recordings one batch upsert takes: a day of a 50-therapist clinic (300 sessions) fits with room."""


class RecordingBatchItem(RecordedSession, forbid_unknown_fields=True, kw_only=True):
    """One recording of a batch upsert: as for ``POST /v1/recordings``, with its ``external_id`` required, and
    its case named by id (``case_id``) or by the clinic's reference (``case``): one of the two."""

    case_id: Annotated[uuid.UUID, msgspec.Meta(description="The case, by its id. Give this or `case`.")] | None = None
    """The case, by its id here."""
    case: (
        Annotated[
            CaseCreate,
            msgspec.Meta(
                description="The case, by the clinic's reference: used if it exists, else created as by "
                "`POST /v1/cases`. Give this or `case_id`."
            ),
        ]
        | None
    ) = None
    """The case, by the clinic's reference: its therapist and client reference. The case with them is used;
    if there is none, it is created as ``POST /v1/cases`` would (same rules, audited ``case.create``), with
    this item: if the item fails, no case is left behind."""
    external_id: Ref
    """The clinic system's id: what makes each item idempotent."""

    def of_case(self, case_id: uuid.UUID) -> RecordingCreate:
        """The item as ``POST /v1/recordings`` takes it, its case resolved to ``case_id``."""
        fields = {name: getattr(self, name) for name in RecordedSession.__struct_fields__}
        return RecordingCreate(case_id=case_id, external_id=self.external_id, **fields)


class RecordingBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    items: Annotated[list[msgspec.Raw], DocumentedAs(list[RecordingBatchItem], min_items=1, max_items=MAX_BATCH)]
    """1 to 500 recordings, each upserted on its own by ``external_id``; the answer has one result per item, in
    order. Each item is validated on its own: a malformed one fails only itself."""


BatchOutcome = Literal["created", "unchanged", "updated", "failed"]


class RecordingBatchItemResult(msgspec.Struct, kw_only=True):
    index: int
    """The item's position in the request (from 0)."""
    external_id: str | None
    """The item's ``external_id``, when it could be read."""
    result: BatchOutcome
    """``created``; ``unchanged`` (pushed before, the same); ``updated`` (pushed before, its consent changed);
    ``failed``: ``problem`` says why, and the item changed nothing."""
    status: int
    """What ``POST /v1/recordings`` would have answered: 201 (created), 200 (unchanged, updated) or the
    problem's status."""
    recording: RecordingOut | None
    """The recording as it now stands (null when failed)."""
    problem: Problem | None
    """Why the item failed (RFC 9457, the problem the single endpoints answer; ``errors`` name fields within
    the item); null otherwise."""


class RecordingBatchResult(msgspec.Struct, kw_only=True):
    items: list[RecordingBatchItemResult]
    """One per item of the request, in its order."""
    created: int
    unchanged: int
    updated: int
    failed: int


class RecordingPage(msgspec.Struct, kw_only=True):
    items: list[RecordingOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    """Which recordings a list shows (besides who may see them); ``None``: any."""

    therapist_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None
    updated_since: dt.datetime | None = None
