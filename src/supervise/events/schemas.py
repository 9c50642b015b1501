"""What an event says: one payload Struct per event type, the envelope every event is sent in (the change feed's
items, a webhook's body), and the catalogue (``GET /v1/event-types``).

Payloads are thin: ids, the rubric version, and what kind of change it was. Never responses, comments, notes,
names or media URIs: a receiver fetches those with its own key, so that its access is checked and audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, ClassVar, Literal

import msgspec

__all__ = [
    "EVENT_TYPES",
    "ClientRatingSubmitted",
    "ClientRatingSubmittedEvent",
    "EventOut",
    "EventPage",
    "EventRubric",
    "EventType",
    "EventTypeList",
    "EventTypeOut",
    "FlagRaised",
    "FlagRaisedEvent",
    "Payload",
    "RecordingConsentChanged",
    "RecordingConsentChangedEvent",
    "RecordingCreated",
    "RecordingCreatedEvent",
    "ReviewAcknowledged",
    "ReviewAcknowledgedEvent",
    "ReviewAmended",
    "ReviewAmendedEvent",
    "ReviewRequested",
    "ReviewRequestedEvent",
    "ReviewSubmitted",
    "ReviewSubmittedEvent",
    "WebhookDeliveryAttemptOut",
    "WebhookDeliveryAttemptPage",
    "WebhookDeliveryOut",
    "WebhookDeliveryPage",
    "WebhookEndpointCreate",
    "WebhookEndpointCreated",
    "WebhookEndpointOut",
    "WebhookEndpointPage",
    "WebhookEndpointUpdate",
    "WebhookSecret",
]

EventType = Literal[
    "recording.created",
    "recording.consent_changed",
    "review.requested",
    "review.submitted",
    "review.amended",
    "review.acknowledged",
    "client_rating.submitted",
    "flag.raised",
]
Role = Literal["supervisor", "peer", "self", "client"]


class EventRubric(msgspec.Struct, kw_only=True):
    key: str
    version: str


class Payload(msgspec.Struct, kw_only=True):
    """The ``data`` of an event. Each subclass is one event type."""

    TYPE: ClassVar[str]


class RecordingCreated(Payload):
    """A recorded session was registered (``POST /v1/recordings``; a re-push of its `external_id` is none)."""

    TYPE = "recording.created"
    recording_id: uuid.UUID
    case_id: uuid.UUID
    therapist_id: uuid.UUID


class RecordingConsentChanged(Payload):
    """A session's consent was changed or withdrawn (``PATCH /v1/recordings/{id}``). An expiry passing is no
    event: its moment was known in advance."""

    TYPE = "recording.consent_changed"
    recording_id: uuid.UUID
    case_id: uuid.UUID
    therapist_id: uuid.UUID
    consent_active: bool
    """Whether consent for supervision use holds after the change."""
    withdrawn: bool


class ReviewRequested(Payload):
    """A session was assigned for review (``POST /v1/review-requests``)."""

    TYPE = "review.requested"
    review_request_id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID
    role: Role
    rubric: EventRubric


class ReviewSubmitted(Payload):
    """A review's first revision was submitted and scored."""

    TYPE = "review.submitted"
    review_id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID
    role: Role
    rubric: EventRubric


class ReviewAmended(Payload):
    """An amendment was submitted: revision `revision` (`review_id`) replaces `replaces_id` in every list."""

    TYPE = "review.amended"
    review_id: uuid.UUID
    replaces_id: uuid.UUID
    revision: int
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID
    role: Role
    rubric: EventRubric


class ReviewAcknowledged(Payload):
    """The therapist acknowledged an observer's review of their session."""

    TYPE = "review.acknowledged"
    review_id: uuid.UUID
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    reviewer_id: uuid.UUID
    rubric: EventRubric


class ClientRatingSubmitted(Payload):
    """The client rated a session: pushed by a clinic system or given through a one-time link."""

    TYPE = "client_rating.submitted"
    review_id: uuid.UUID
    """The rating's id (it is served as a review with role `client`)."""
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    source: Literal["integration", "link"]
    rubric: EventRubric


class FlagRaised(Payload):
    """A submitted rating raised a flag of its rubric (a threshold on the rating, or a change rule across a
    case's sessions): one event per flag."""

    TYPE = "flag.raised"
    review_id: uuid.UUID
    """The rating the flag is on."""
    recording_id: uuid.UUID
    therapist_id: uuid.UUID
    code: str
    """The rubric's code for the flag (e.g. `total_below_cutoff`)."""
    severity: Literal["info", "warning", "critical"]
    rubric: EventRubric


class _Envelope(msgspec.Struct, kw_only=True, tag_field="type"):
    """An event as the change feed serves it and a webhook sends it."""

    id: uuid.UUID
    """The event's id; a webhook's `webhook-id`. Receivers deduplicate by it."""
    seq: int
    """Its position in the organisation's feed, from 1, in commit order: ask for `after=<seq>`."""
    timestamp: dt.datetime
    """When the change was made."""
    organisation_id: uuid.UUID


class RecordingCreatedEvent(_Envelope, tag="recording.created"):
    data: RecordingCreated


class RecordingConsentChangedEvent(_Envelope, tag="recording.consent_changed"):
    data: RecordingConsentChanged


class ReviewRequestedEvent(_Envelope, tag="review.requested"):
    data: ReviewRequested


class ReviewSubmittedEvent(_Envelope, tag="review.submitted"):
    data: ReviewSubmitted


class ReviewAmendedEvent(_Envelope, tag="review.amended"):
    data: ReviewAmended


class ReviewAcknowledgedEvent(_Envelope, tag="review.acknowledged"):
    data: ReviewAcknowledged


class ClientRatingSubmittedEvent(_Envelope, tag="client_rating.submitted"):
    data: ClientRatingSubmitted


class FlagRaisedEvent(_Envelope, tag="flag.raised"):
    data: FlagRaised


EventOut = (
    RecordingCreatedEvent
    | RecordingConsentChangedEvent
    | ReviewRequestedEvent
    | ReviewSubmittedEvent
    | ReviewAmendedEvent
    | ReviewAcknowledgedEvent
    | ClientRatingSubmittedEvent
    | FlagRaisedEvent
)

EVENT_TYPES: dict[str, tuple[type[Payload], type[_Envelope]]] = {
    envelope.__struct_config__.tag: (payload, envelope)  # type: ignore[misc]
    for payload, envelope in [
        (RecordingCreated, RecordingCreatedEvent),
        (RecordingConsentChanged, RecordingConsentChangedEvent),
        (ReviewRequested, ReviewRequestedEvent),
        (ReviewSubmitted, ReviewSubmittedEvent),
        (ReviewAmended, ReviewAmendedEvent),
        (ReviewAcknowledged, ReviewAcknowledgedEvent),
        (ClientRatingSubmitted, ClientRatingSubmittedEvent),
        (FlagRaised, FlagRaisedEvent),
    ]
}
"""Event type -> its payload and its envelope, in catalogue order."""


class EventPage(msgspec.Struct, kw_only=True):
    items: list[EventOut]
    next_cursor: Annotated[str, msgspec.Meta(examples=["42"])]
    """Ask for `after=<next_cursor>` next; the same as `after` when no event is newer."""
    has_more: bool
    """Whether newer events exist already: then ask again at once, else poll later."""


class EventTypeOut(msgspec.Struct, kw_only=True):
    type: EventType
    description: str
    schema: dict[str, Any]
    """The JSON Schema (2020-12) of the event as the feed serves it and a webhook sends it."""


class EventTypeList(msgspec.Struct, kw_only=True):
    items: list[EventTypeOut]


# ------------------------------------------------------------------------------------------------- webhooks

EventTypeName = str
"""Checked against the catalogue by the service (an unknown type is a 422 naming it)."""
WebhookUrl = Annotated[
    str, msgspec.Meta(min_length=8, max_length=2048, examples=["https://ehr.clinic.example/hooks/supervise"])
]
Description = Annotated[str, msgspec.Meta(max_length=200, examples=["EHR sync"])]


class WebhookEndpointCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: WebhookUrl
    """https, on a public address (checked now and at every delivery)."""
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1, max_length=32)]
    """Types from `GET /v1/event-types`; an unknown one is a 422."""
    description: Description | None = None


class WebhookEndpointUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: WebhookUrl | msgspec.UnsetType = msgspec.UNSET
    event_types: Annotated[list[EventTypeName], msgspec.Meta(min_length=1, max_length=32)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    """`true` reactivates an endpoint that was disabled (and clears `disabled_reason`): its pending deliveries
    go out again."""


class WebhookEndpointOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    disabled_reason: str | None
    """Why delivery stopped by itself: the receiver answered 410, or an event failed past the retry schedule."""
    previous_secret_until: dt.datetime | None
    """During a rotation, until when the previous secret signs too."""
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookEndpointCreated(WebhookEndpointOut, kw_only=True):
    secret: str | None
    """`whsec_…`: shown once; verify signatures with it (Standard Webhooks). Null in an answer replayed for an
    `Idempotency-Key`: the secret is not kept with remembered answers."""


class WebhookSecret(msgspec.Struct, kw_only=True):
    secret: str | None
    """The new `whsec_…` secret, shown once (null in an answer replayed for an `Idempotency-Key`)."""
    previous_secret_until: dt.datetime
    """Until then every request is signed with both the new and the previous secret."""


class WebhookEndpointPage(msgspec.Struct, kw_only=True):
    items: list[WebhookEndpointOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class WebhookDeliveryOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    """The event's id, sent as `webhook-id` on every attempt."""
    event_type: str
    state: Literal["pending", "succeeded", "failed"]
    attempts: int
    """How many were made (or started); each is in the delivery's log, `…/attempts`."""
    next_attempt_at: dt.datetime | None
    """When the next attempt is due (pending deliveries)."""
    last_attempt_at: dt.datetime | None
    last_status: int | None
    """The HTTP status of the last attempt; null when it got no answer."""
    last_latency_ms: int | None
    last_error: str | None
    created_at: dt.datetime


class WebhookDeliveryPage(msgspec.Struct, kw_only=True):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""


class WebhookDeliveryAttemptOut(msgspec.Struct, kw_only=True):
    """One attempt of a delivery: what was sent when, what came back, and what followed."""

    attempt: Annotated[int, msgspec.Meta(ge=1, examples=[2])]
    """1 for the first; numbering goes on across redeliveries (an attempt after a `succeeded` or `disabled`
    one was a redelivery)."""
    delivery_id: uuid.UUID
    started_at: dt.datetime
    status: Annotated[int, msgspec.Meta(examples=[500])] | None
    """The receiver's HTTP status; null when it gave none (a timeout, a refused connection or address, a lost
    worker) or the attempt is under way. Nothing else of the answer is kept: its body is never read."""
    latency_ms: Annotated[int, msgspec.Meta(ge=0, examples=[184])] | None
    """From the start of the attempt to the answer's headers (or the failure); null while under way or when
    its worker was lost."""
    error: Annotated[str, msgspec.Meta(max_length=300, examples=["answered 500"])] | None
    """What went wrong, in our words (e.g. `no answer within 10 s`, `answered 302: redirects are not
    followed`, `worker lost: …`); null when it succeeded."""
    next_action: Literal["retry", "succeeded", "disabled"] | None
    """What followed: `retry` at `retry_at`; `succeeded` (the delivery is done); `disabled` (the receiver
    answered 410 or the retry schedule ran out: the delivery failed and the endpoint was disabled). Null while
    the attempt is under way, or its worker was lost and the delivery is not yet claimed again."""
    retry_at: dt.datetime | None
    """When the next attempt was due, for `retry`."""


class WebhookDeliveryAttemptPage(msgspec.Struct, kw_only=True):
    items: list[WebhookDeliveryAttemptOut]
    next_cursor: str | None
    has_more: bool
    """Whether another page follows: then ``next_cursor`` fetches it."""
