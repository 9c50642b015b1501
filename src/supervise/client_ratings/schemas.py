"""Client ratings and client form links in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from supervise.client_ratings.tables import Source
from supervise.reviews.schemas import ReviewResult, RubricKey, RubricPin, RubricVersion
from supervise.rubrics.model import Responses, RubricDefinition

__all__ = [
    "ClientFormCreate",
    "ClientFormOut",
    "ClientFormPage",
    "ClientFormSubmission",
    "ClientRatingCreate",
    "ClientRatingOut",
    "FormReceipt",
    "FormState",
    "FormView",
    "IssuedForm",
]

FormState = Literal["open", "used", "revoked", "expired"]
Aware = Annotated[dt.datetime, msgspec.Meta(tz=True, examples=["2026-11-12T10:55:00+01:00"])]
ExternalId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", examples=["srs-88412"])
]


class ClientRatingCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A client's completed form, pushed by a clinic system (an integration key with ``client-ratings:write``).
    The client is the case's client: never named here."""

    recording_id: uuid.UUID
    """The session the client rated."""
    rubric_key: RubricKey
    rubric_version: RubricVersion | None = None
    """The installed version the form was; the latest when left out."""
    responses: Responses
    completed_at: Aware
    """When the client completed the form: not before the session began, not in the future."""
    external_id: ExternalId | None = None
    """The clinic system's id of the completed form: pushing it again answers 200 with the same rating."""


class ClientRatingOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    """The rating's review id: it is also served as a review with role `client` (`GET /v1/reviews/{id}`)."""
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    rubric: RubricPin
    source: Source
    """`integration` (pushed by a clinic system) or `link` (the client's one-time form link)."""
    external_id: str | None
    form_id: uuid.UUID | None
    responses: Responses
    result: ReviewResult
    completed_at: dt.datetime


class ClientFormCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    recording_id: uuid.UUID
    rubric_key: RubricKey
    rubric_version: RubricVersion | None = None
    expires_in_hours: Annotated[int, msgspec.Meta(ge=1, le=720, examples=[72])] | None = None
    """How long the link stays valid; the server's default (72 h unless configured) when left out."""


class ClientFormOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    rubric: RubricPin
    state: FormState
    created_by_id: uuid.UUID
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    rating_id: uuid.UUID | None
    """The client rating submitted through it."""


class IssuedForm(ClientFormOut, kw_only=True):
    token: str | None
    """The link's secret: shown this once, stored only as a digest (null when an `Idempotency-Key` replays the
    answer). Give the client `url`."""
    url: str | None
    """Where the client's front end (a kiosk, a tablet, a text message) reads and submits the form: the
    token's path, `/v1/forms/{token}`."""


class ClientFormPage(msgspec.Struct, kw_only=True):
    items: list[ClientFormOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class FormView(msgspec.Struct, kw_only=True):
    """What a front end needs to show a client the form: no names, no other data."""

    clinic: str
    """The organisation's name."""
    session_date: dt.date
    """The day of the session being rated, in the clinic's time zone."""
    rubric: RubricDefinition
    responses_schema: dict[str, Any]
    """JSON Schema of a complete set of responses: what the submission must satisfy."""
    expires_at: dt.datetime


class ClientFormSubmission(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    responses: Responses


class FormReceipt(msgspec.Struct, kw_only=True):
    received_at: dt.datetime
    """The link is used up from now on."""
