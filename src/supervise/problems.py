"""The catalogue of problem types: one stable ``type`` URI per cause of failure, not per status.

Every problem+json answer names one of these. A client branches on ``type`` (never on ``detail``, which is for
people); where it needs an id to go on (the draft it already has, the revision that superseded this one), the
problem carries it in the extension member the entry names. The catalogue is served at ``GET /problems``,
each type URI resolves to its entry (``GET /problems/{slug}``), and docs/problems.md lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASE", "CATALOGUE", "ProblemType"]

BASE = "https://supervise.dev/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str
    """When it is raised, and what the client can do about it."""
    extensions: tuple[str, ...] = ()
    """The extension members that carry ids the client needs (present whenever the id is known)."""
    preflight: bool = False
    """Raised only for a browser's CORS preflight (``supervise.cors``), never by an operation: the operations'
    documented responses do not list it."""

    @property
    def uri(self) -> str:
        return BASE + self.slug


CATALOGUE: dict[str, ProblemType] = {}
"""Every problem type, by slug, in the order declared here."""


def _type(
    slug: str, status: int, title: str, description: str, *extensions: str, preflight: bool = False
) -> ProblemType:
    assert slug not in CATALOGUE, slug
    kind = ProblemType(slug, status, title, " ".join(description.split()), extensions, preflight)
    CATALOGUE[slug] = kind
    return kind


# 400 ----------------------------------------------------------------------------------------------------------
INVALID_REQUEST = _type(
    "invalid-request",
    400,
    "Invalid request",
    """The body, a query parameter, a header or a path segment does not fit the operation's schema: not JSON, a
    key given twice, a wrong type, an unknown or repeated query parameter. `errors` names each field.""",
)
INVALID_CURSOR = _type(
    "invalid-cursor",
    400,
    "Invalid cursor",
    """The `cursor` is not one this list gave out, or it was given with other filters or by another
    organisation. Pass `next_cursor` back unchanged with the same filters, or start again without a cursor.""",
)

# 401 ----------------------------------------------------------------------------------------------------------
UNAUTHORIZED = _type(
    "unauthorized",
    401,
    "Unauthorized",
    """No credential, or one that is unknown, revoked or expired, or whose member is deactivated. The body is the
    same in every case; `WWW-Authenticate` is sent.""",
)

# 403 ----------------------------------------------------------------------------------------------------------
SCOPE_MISSING = _type(
    "scope-missing",
    403,
    "API key lacks a scope",
    """The API key does not hold the scope this operation needs (each operation's description names it). Use
    a key with that scope.""",
)
ROLE_REQUIRED = _type(
    "role-required",
    403,
    "Role required",
    """The operation needs a role the caller's member does not have (each operation's description names it).""",
)
NOT_PERMITTED = _type(
    "not-permitted",
    403,
    "Not permitted",
    """The caller may see the resource but not do this to it: only its reviewer edits a review, only the
    therapist acknowledges one, only a supervisor of the therapist assigns supervisor review, only admins see
    another rater's calibration, and so on. `detail` says which rule.""",
)
SCOPE_NOT_HELD = _type(
    "scope-not-held",
    403,
    "Scope not held",
    """A new API key may only be given scopes the key that creates it holds.""",
)

CORS_ORIGIN_REFUSED = _type(
    "cors-origin-refused",
    403,
    "Origin not allowed",
    """A browser's CORS preflight came from a page whose origin is not in `SUPERVISE_CORS_ORIGINS`: the browser
    will not send the call. `errors` names `Origin`; the allowed origins are not disclosed. An operator adds
    the front end's exact origin to the setting.""",
    preflight=True,
)
CORS_METHOD_REFUSED = _type(
    "cors-method-refused",
    403,
    "Method not allowed across origins",
    """A CORS preflight from an allowed origin asked for a method no route answers
    (`Access-Control-Request-Method`, named in `errors`); the methods allowed are in
    `Access-Control-Allow-Methods` of a successful preflight and in the OpenAPI document.""",
    preflight=True,
)
CORS_HEADERS_REFUSED = _type(
    "cors-headers-refused",
    403,
    "Header not allowed across origins",
    """A CORS preflight from an allowed origin asked to send a request header the API does not read
    (`Access-Control-Request-Headers`); `errors` names each one refused. Send only `Authorization`,
    `Content-Type`, `If-Match`, `If-None-Match` and `Idempotency-Key`.""",
    preflight=True,
)

# 404 ----------------------------------------------------------------------------------------------------------
NOT_FOUND = _type(
    "not-found",
    404,
    "Not found",
    """No resource with this id that the caller may see. An id of another organisation gets the same answer,
    byte for byte, as one that never existed.""",
)
NO_ROUTE = _type("no-route", 404, "No route", """No operation has this path.""")
METHOD_NOT_ALLOWED = _type(
    "method-not-allowed", 405, "Method not allowed", """The path exists but not with this method; see `Allow`."""
)

# 409 ----------------------------------------------------------------------------------------------------------
DRAFT_EXISTS = _type(
    "draft-exists",
    409,
    "Draft exists",
    """The caller already has a draft for this: a review of the same recording with the same rubric, or an
    amendment of the same revision. Go on with the draft in `draft_id`.""",
    "draft_id",
)
REVIEW_EXISTS = _type(
    "review-exists",
    409,
    "Review exists",
    """The reviewer already submitted a review of this recording with this rubric: amend the review in
    `review_id` instead of starting another.""",
    "review_id",
)
REQUEST_EXISTS = _type(
    "request-exists",
    409,
    "Review request exists",
    """The reviewer already has an open request for this recording and rubric: `request_id`.""",
    "request_id",
)
REQUEST_CLOSED = _type(
    "request-closed",
    409,
    "Review request closed",
    """A review starts only from an open request, and only an open or in-progress request can be cancelled. When
    a review was started from the request, `review_id` names it.""",
    "review_id",
)
REVIEW_SUBMITTED = _type(
    "review-submitted",
    409,
    "Review submitted",
    """The review is no longer a draft (it may have been submitted meanwhile): submitted reviews are immutable, so
    edit, annotate or discard nothing; amend it instead.""",
)
REVIEW_NOT_SUBMITTED = _type(
    "review-not-submitted",
    409,
    "Review not submitted",
    """The review is still a draft: edit it rather than amend it; it can be acknowledged, and read as FHIR, once
    submitted.""",
)
ALREADY_ACKNOWLEDGED = _type(
    "already-acknowledged", 409, "Already acknowledged", """The therapist acknowledged this review already."""
)
SUPERSEDED = _type(
    "superseded",
    409,
    "Revision superseded",
    """This revision was replaced by an amendment: amend or acknowledge the revision in `superseded_by_id`.""",
    "superseded_by_id",
)
NOT_FOR_THIS_ROLE = _type(
    "not-for-this-role",
    409,
    "Not for this kind of review",
    """Self-ratings and client ratings are not acknowledged, and client ratings are not amended: they are the
    rater's own voice, compared with the observers', not feedback to the therapist.""",
)
CONSENT_ENDED = _type(
    "consent-ended",
    409,
    "Consent ended",
    """Consent for supervision use of the recording has expired or was withdrawn: it can no longer be reviewed,
    and drafts of its reviews can no longer be changed or submitted.""",
)
TRAINING_CONSENT_MISSING = _type(
    "training-consent-missing",
    409,
    "No consent for training use",
    """Only a recording consented for training (`consent_scope` `supervision_and_training`, not withdrawn) can have
    a reference review.""",
)
NOT_A_REFERENCE_CANDIDATE = _type(
    "not-a-reference-candidate",
    409,
    "Not a reference candidate",
    """Only the submitted, current revision of an observer's review (a supervisor's or a peer's) can be marked as
    a reference.""",
)
REFERENCE_EXISTS = _type(
    "reference-exists",
    409,
    "Reference exists",
    """The recording already has a reference review with this rubric version: `review_id`.""",
    "review_id",
)
ANNOTATION_LIMIT = _type("annotation-limit", 409, "Too many annotations", """A review holds at most 500 annotations.""")
CASE_EXISTS = _type(
    "case-exists",
    409,
    "Case exists",
    """The therapist already has a case with this `external_ref`: `case_id`.""",
    "case_id",
)
EXTERNAL_ID_USED = _type(
    "external-id-used",
    409,
    "external_id used",
    """A different recording (`recording_id`) or client rating (`review_id`) was already pushed with this
    `external_id`. The same body again is not an error: it answers the existing one.""",
    "recording_id",
    "review_id",
)
ALREADY_RATED = _type(
    "already-rated",
    409,
    "Already rated by the client",
    """The client already rated this session with this rubric: `review_id`.""",
    "review_id",
)
FORM_USED = _type(
    "form-used",
    409,
    "Form link used",
    """The client form link was used already (a link is used once); when known, `review_id` names the rating.""",
    "review_id",
)
RUBRIC_NOT_INSTALLED = _type(
    "rubric-not-installed",
    409,
    "Rubric not installed",
    """The rubric version of this review or form is no longer installed here: it can be read, never scored
    again. Reinstall the plugin version that provides it (a form: ask the clinic for a new link).""",
)
BLIND_REVIEW_PENDING = _type(
    "blind-review-pending",
    409,
    "Blind review pending",
    """The caller still owes a first review of one of this therapist's sessions: the therapist's figures stay
    hidden from them until it is submitted.""",
)
LINK_EXISTS = _type(
    "link-exists", 409, "Supervision link exists", """This supervision link exists already: `link_id`.""", "link_id"
)
EMAIL_TAKEN = _type(
    "email-taken", 409, "Email address taken", """Another member of the organisation has this email address."""
)
TIME_ZONE_FIXED = _type(
    "time-zone-fixed",
    409,
    "Time zone fixed",
    """The organisation's time zone cannot change once reviews were scored: their days, weeks and months would
    move.""",
)
SELF_LOCKOUT = _type(
    "self-lockout",
    409,
    "Would lock yourself out",
    """An admin cannot remove their own admin role or deactivate themselves; another admin can.""",
)
LAST_ADMIN = _type(
    "last-admin",
    409,
    "Last admin",
    """The organisation would have no active admin left: make someone else admin first.""",
)
IDEMPOTENCY_KEY_IN_USE = _type(
    "idempotency-key-in-use",
    409,
    "Idempotency-Key in use",
    """A request with this `Idempotency-Key` is being made right now; retry once it is done to get its answer.""",
)
CONCURRENT_WRITE = _type(
    "concurrent-write",
    409,
    "Concurrent write",
    """Another request changed the same thing at the same moment; nothing was written. Retrying is safe.""",
)

ENDPOINT_DISABLED = _type(
    "endpoint-disabled",
    409,
    "Webhook endpoint disabled",
    """The webhook endpoint is disabled (by an admin, or after failing for too long), so nothing is sent to it:
    reactivate it with `PATCH` `active=true` and its deliveries go out.""",
)
DELIVERY_PENDING = _type(
    "delivery-pending",
    409,
    "Delivery pending",
    """This webhook delivery is waiting to be sent already; it goes out when due, so there is nothing to
    redeliver.""",
)
IDENTITY_PROVIDER_EXISTS = _type(
    "identity-provider-exists",
    409,
    "Identity provider registered",
    """An identity provider with this issuer and audience is registered already (tokens could not say which one
    they are for): have the provider issue this API's tokens with an audience of your own.""",
)

# 410 ----------------------------------------------------------------------------------------------------------
EVENTS_EXPIRED = _type(
    "events-expired",
    410,
    "Events expired",
    """The change-feed cursor (`after`) is older than events pruned since (retention): reading on would skip
    them. Sync from the lists, then read the feed again without `after`, from its oldest event kept.""",
)

# 412, 413, 415 ------------------------------------------------------------------------------------------------
PRECONDITION_FAILED = _type(
    "precondition-failed",
    412,
    "Precondition failed",
    """`If-Match` names a version that is no longer current (or the resource changed while the request ran):
    read it again and reapply the change.""",
)
REQUEST_BODY_TOO_LARGE = _type(
    "request-body-too-large", 413, "Request body too large", """The request body exceeds the server's limit."""
)
UNSUPPORTED_MEDIA_TYPE = _type(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    """The body is not `application/json` (or a `+json` type).""",
)

# 422 ----------------------------------------------------------------------------------------------------------
IDEMPOTENCY_KEY_REUSED = _type(
    "idempotency-key-reused",
    422,
    "Idempotency-Key reused",
    """This `Idempotency-Key` was used with a different request within the window: use a new key.""",
)
RESPONSES_INVALID = _type(
    "responses-invalid",
    422,
    "Responses do not fit the rubric",
    """The responses do not fit the review's rubric: an unknown item, a value outside its scale, or (to submit) a
    missing one. `errors` names each item.""",
)
RUBRIC_UNKNOWN = _type(
    "rubric-unknown",
    422,
    "Rubric unknown",
    """No installed rubric has this key or version, or it is not rated by this role, or it has no such measure.
    `errors` names the field.""",
)
INVALID_REFERENCE = _type(
    "invalid-reference",
    422,
    "Invalid reference",
    """An id in the body or query names nothing the caller can see (a member, case, recording or request), or a
    member who cannot take this part (not an active clinician, say). `errors` names the field.""",
)
INVALID_VALUE = _type(
    "invalid-value",
    422,
    "Invalid value",
    """The request is well formed but a value breaks a rule of the domain: a duplicate role, an unknown time
    zone, an empty date range, fields that exclude each other. `errors` names each field.""",
)

BATCH_SIZE = _type(
    "batch-size",
    422,
    "Batch size out of range",
    """A batch (`POST /v1/recordings:batch`) holds 1 to 500 items: split a larger one (each item is idempotent by
    its `external_id`, so sending an item twice is safe). `errors` names `items`.""",
)
BATCH_DUPLICATE = _type(
    "batch-duplicate",
    422,
    "Given twice in one batch",
    """Two or more items of one batch carry the same `external_id`; none of them was written, as it is not clear
    which one is meant. Send that recording once. `errors` names `external_id` and the other items.""",
)

ADDRESS_REFUSED = _type(
    "address-refused",
    422,
    "Address refused",
    """A URL the server would call (a webhook endpoint's `url`, an identity provider's `issuer` or `jwks_uri`)
    is not one it calls: not https, no host, credentials or a fragment in it, or a host that does not resolve
    or resolves to a private, loopback, link-local or reserved address. `errors` names the field.""",
)
WHOLE_PERIOD_REQUIRED = _type(
    "whole-period-required",
    422,
    "Whole period required",
    """A team view covers one whole calendar month (`from` its first day, `to` its last) or all time: cells over
    nested or overlapping ranges could be subtracted from one another to recover the few sessions between
    them. `errors` names the field.""",
)

# 428, 429, 431 ------------------------------------------------------------------------------------------------
PRECONDITION_REQUIRED = _type(
    "precondition-required",
    428,
    "Precondition required",
    """This update needs `If-Match` with the ETag of the version read (an empty `If-Match` counts as none).""",
)
TOO_MANY_REQUESTS = _type(
    "too-many-requests",
    429,
    "Too many requests",
    """A rate limit was reached (per key, per organisation, per address or per form link); `Retry-After` and
    the `RateLimit` fields say when to retry.""",
)
REQUEST_HEADER_FIELDS_TOO_LARGE = _type(
    "request-header-fields-too-large",
    431,
    "Request header fields too large",
    """The request carries more than 100 header fields, or its head exceeds 32 KiB.""",
)

# 5xx ----------------------------------------------------------------------------------------------------------
INTERNAL_SERVER_ERROR = _type(
    "internal-server-error",
    500,
    "Internal server error",
    """The server failed; it is logged with the request's `X-Request-ID`. Nothing was written.""",
)
PLUGIN_FAILURE = _type(
    "plugin-failure",
    500,
    "Rubric plugin failed",
    """A rubric plugin raised while scoring, or returned a result that breaks its own declaration; `detail` names
    the plugin. Nothing was written.""",
)
SERVICE_UNAVAILABLE = _type(
    "service-unavailable",
    503,
    "Service unavailable",
    """The database could not do its part just now; nothing was changed or disclosed. Retry after `Retry-After`
    seconds.""",
)
WRITE_TOO_SLOW = _type(
    "write-too-slow",
    503,
    "Write took too long",
    """The request's transaction ran longer than 30 seconds before it could commit (the database was slow or
    busy), so it was rolled back: nothing was changed. Retry after `Retry-After` seconds. The bound is what lets
    a client syncing with `updated_since` never miss a change (README: "Syncing lists with updated_since").""",
)

BY_STATUS = {
    400: INVALID_REQUEST,
    404: NO_ROUTE,
    405: METHOD_NOT_ALLOWED,
    413: REQUEST_BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: TOO_MANY_REQUESTS,
    431: REQUEST_HEADER_FIELDS_TOO_LARGE,
}
"""The type of a framework error (Litestar's ``HTTPException``) by its status; others are invalid requests (4xx)
or internal errors (5xx)."""
