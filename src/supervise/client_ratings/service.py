"""Client ratings: a client rates a session with a client-rated rubric (SRS, WAI-SR), and the rating is stored as
a submitted review with role ``client`` and no reviewer (``supervise.reviews.service.record_client_rating``).

Two ways in, both audited in the transaction that stores the rating:

- **A clinic system** pushes the completed form (:func:`submit_rating`) with an integration key that holds
  ``client-ratings:write`` (admins). Its ``external_id`` makes re-sync idempotent: the same form again is the
  same rating; a different one under the same id is a 409.
- **A one-time link** (:func:`create_form`): the therapist, a supervisor of theirs or an admin asks for one; its
  token (256 random bits) is shown once and kept only as its SHA-256 digest. The client's front end reads the
  form through it (:func:`open_form`: the rubric, the clinic's name and the session's date, nothing else) and
  submits it once (:func:`submit_form`). Unknown, expired and revoked links are one and the same 404; a used
  one is a 409 on submission. The links take no API key; each is rate-limited, and so is each address
  (``supervise.throttle``).

A session has at most one client rating per rubric, whichever way it came in. Who sees client ratings, and how
they enter the aggregates, is decided where reviews are (``supervise.reviews.repository.Viewer``,
``supervise.aggregates``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import msgspec

from supervise import db, problems
from supervise.audit import service as audit
from supervise.auth.principal import Principal
from supervise.client_ratings import repository
from supervise.client_ratings.schemas import ClientFormCreate, ClientFormSubmission, ClientRatingCreate
from supervise.client_ratings.tables import ClientForm, ClientRating
from supervise.clock import utcnow
from supervise.db import Tx, new_id
from supervise.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from supervise.events import service as events
from supervise.events.schemas import ClientRatingSubmitted, EventRubric
from supervise.members import service as members
from supervise.pagination import Page, PageRequest
from supervise.recordings import service as recordings
from supervise.recordings.service import Recording
from supervise.reviews import service as reviews
from supervise.reviews.service import Review
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import Responses
from supervise.runtime import Runtime
from supervise.scores import service as scores

__all__ = [
    "ClientForm",
    "ClientRating",
    "IssuedToken",
    "Opened",
    "Rated",
    "create_form",
    "get_form",
    "list_forms",
    "open_form",
    "revoke_form",
    "submit_form",
    "submit_rating",
    "token_digest",
]

TOKEN_PREFIX = "cf_"  # noqa: S105 (the prefix every link token starts with, not a secret)
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a clinic system's ``completed_at`` may be (its clock against ours)."""


@dataclass(frozen=True, slots=True)
class Rated:
    rating: ClientRating
    review: Review
    created: bool


@dataclass(frozen=True, slots=True)
class IssuedToken:
    form: ClientForm
    token: str


@dataclass(frozen=True, slots=True)
class Opened:
    form: ClientForm
    clinic: str
    session_date: dt.date


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _invalid(field: str, problem: str, message: str = "The client rating is not valid.") -> Unprocessable:
    kind = problems.INVALID_REFERENCE if field == "recording_id" else problems.INVALID_VALUE
    return Unprocessable(kind, message, errors=[FieldError(field, problem)])


async def _ratable(tx: Tx, principal: Principal, recording_id: uuid.UUID) -> Recording:
    recording = await recordings.visible_recording(tx, principal, recording_id)
    if recording is None:
        raise _invalid("recording_id", "no recording with this id")
    if not recording.consent_holds(utcnow()):
        raise Conflict(
            problems.CONSENT_ENDED,
            "The recording may not be rated: consent for supervision use has expired or was withdrawn.",
            errors=[FieldError("recording_id", "consent for supervision use is not active")],
        )
    return recording


def _same(rating: ClientRating, review: Review, data: ClientRatingCreate, version: str) -> bool:
    return (
        rating.recording_id == data.recording_id
        and (rating.rubric_key, rating.rubric_version) == (data.rubric_key, version)
        and rating.completed_at == data.completed_at.astimezone(dt.UTC)
        and msgspec.convert(review.responses, Responses) == data.responses
    )


async def submit_rating(tx: Tx, runtime: Runtime, principal: Principal, data: ClientRatingCreate) -> Rated:
    """Store a completed form a clinic system pushed (see the module's docstring)."""
    recording = await _ratable(tx, principal, data.recording_id)
    rubric = reviews.pin_client_rubric(runtime, data.rubric_key, data.rubric_version)
    completed_at = data.completed_at.astimezone(dt.UTC)
    if completed_at < recording.occurred_at:
        raise _invalid("completed_at", "before the session began")
    if completed_at > utcnow() + CLOCK_SKEW:
        raise _invalid("completed_at", "in the future")
    if data.external_id is not None:
        pushed = await repository.rating_by_external_id(tx, principal.org_id, data.external_id)
        if pushed is not None:
            review = await reviews.visible_review(tx, principal, pushed.review_id)
            if not _same(pushed, review, data, rubric.version):
                raise Conflict(
                    problems.EXTERNAL_ID_USED,
                    "A different client rating was already pushed with this external_id.",
                    errors=[FieldError("external_id", f"already used by client rating {pushed.review_id}")],
                    review_id=pushed.review_id,
                )
            audit.record_read(tx, principal, "client_rating.read", "review", review.id)
            return Rated(pushed, review, created=False)
    await _not_rated_yet(tx, recording, rubric.key)
    review = await reviews.record_client_rating(tx, runtime, recording, rubric, data.responses, completed_at)
    rating = ClientRating(
        org_id=principal.org_id,
        review_id=review.id,
        recording_id=recording.id,
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        source="integration",
        external_id=data.external_id,
        submitted_by_id=principal.member_id,
        form_id=None,
        completed_at=completed_at,
    )
    await db.insert(
        tx,
        rating,
        conflict=Conflict(problems.ALREADY_RATED, "This session was rated by its client at the same moment; retry."),
    )
    await audit.record(tx, principal, "client_rating.submit", "review", review.id)
    await events.record(tx, principal.org_id, _submitted(rating, review))
    return Rated(rating, review, created=True)


def _submitted(rating: ClientRating, review: Review) -> ClientRatingSubmitted:
    return ClientRatingSubmitted(
        review_id=review.id,
        recording_id=rating.recording_id,
        therapist_id=review.therapist_id,
        source=rating.source,
        rubric=EventRubric(key=rating.rubric_key, version=rating.rubric_version),
    )


async def _not_rated_yet(tx: Tx, recording: Recording, rubric_key: str) -> None:
    existing = await repository.rating_for(tx, recording.org_id, recording.id, rubric_key)
    if existing is not None:
        raise Conflict(
            problems.ALREADY_RATED,
            f"The client already rated this session with {rubric_key}: client rating {existing.review_id}.",
            errors=[FieldError("recording_id", f"already rated with {rubric_key}")],
            review_id=existing.review_id,
        )


# --------------------------------------------------------------------------------------------- form links


async def _therapists(tx: Tx, principal: Principal) -> list[uuid.UUID] | None:
    """Whose sessions' links ``principal`` may see: everyone's for an admin, else their own and supervisees'."""
    if principal.is_admin:
        return None
    return [principal.member_id, *await members.supervisees(tx, principal.org_id, principal.member_id)]


async def create_form(tx: Tx, runtime: Runtime, principal: Principal, data: ClientFormCreate) -> IssuedToken:
    recording = await _ratable(tx, principal, data.recording_id)
    therapists = await _therapists(tx, principal)
    if therapists is not None and recording.therapist_id not in therapists:
        raise Forbidden(
            problems.NOT_PERMITTED,
            "Only the therapist, a supervisor of theirs or an admin may ask the client for a rating.",
        )
    rubric = reviews.pin_client_rubric(runtime, data.rubric_key, data.rubric_version)
    await _not_rated_yet(tx, recording, rubric.key)
    # The version freezes when the link is issued, as at a first draft: the client answers this definition.
    await rubrics.ensure_snapshot(tx, runtime.registry, rubric)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    hours = data.expires_in_hours or runtime.settings.client_form_hours
    form = ClientForm(
        id=new_id(),
        org_id=principal.org_id,
        recording_id=recording.id,
        therapist_id=recording.therapist_id,
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        token_digest=token_digest(token),
        created_by_id=principal.member_id,
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours),
        revoked_at=None,
        used_at=None,
        review_id=None,
    )
    await db.insert(tx, form, conflict=Conflict(problems.CONCURRENT_WRITE, "A link with this token exists; retry."))
    await audit.record(tx, principal, "client_form.create", "client_form", form.id)
    return IssuedToken(form, token)


async def get_form(tx: Tx, principal: Principal, form_id: uuid.UUID) -> ClientForm:
    form = await repository.get_form(tx, principal.org_id, form_id, await _therapists(tx, principal))
    if form is None:
        raise NotFound("client form")
    audit.record_read(tx, principal, "client_form.read", "client_form", form.id)
    return form


async def list_forms(
    tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest, recording_id: uuid.UUID | None
) -> Page[ClientForm]:
    therapists = await _therapists(tx, principal)
    found = await repository.page_forms(
        tx, principal.org_id, page, runtime.cursors, therapists=therapists, recording_id=recording_id
    )
    audit.record_read(tx, principal, "client_form.list", "client_form", None)
    return found


async def revoke_form(tx: Tx, principal: Principal, form_id: uuid.UUID) -> ClientForm:
    """Revoke a link that was not used (revoking it again changes nothing)."""
    form = await repository.get_form(tx, principal.org_id, form_id, await _therapists(tx, principal), for_update=True)
    if form is None:
        raise NotFound("client form")
    if form.used_at is not None:
        raise Conflict(
            problems.FORM_USED, f"The link was used already: client rating {form.review_id}.", review_id=form.review_id
        )
    if form.revoked_at is None:
        now = utcnow()
        await repository.revoke(tx, form, now)
        form.revoked_at = now
        await audit.record(tx, principal, "client_form.revoke", "client_form", form.id)
    return form


async def _open(tx: Tx, token: str) -> tuple[ClientForm, Recording]:
    """The open link behind ``token`` and its session; one and the same 404 for every link that cannot be used
    (never made, expired, revoked, or its session's consent ended), so the answer tells nothing about it."""
    gone = NotFound("form")
    form = await repository.form_by_digest(tx, token_digest(token)) if token.startswith(TOKEN_PREFIX) else None
    if form is None or form.state(utcnow()) in ("expired", "revoked"):
        raise gone
    recording = await recordings.recording_of(tx, form.org_id, form.recording_id)
    if not recording.consent_holds(utcnow()):
        raise gone
    return form, recording


async def open_form(tx: Tx, token: str) -> Opened:
    """What the client's front end shows: the rubric (the caller serves it), the clinic's name, the session's
    date. A used link is gone as well."""
    form, recording = await _open(tx, token)
    if form.used_at is not None:
        raise NotFound("form")
    organisation = await members.get_organisation(tx, form.org_id)
    return Opened(form, organisation.name, scores.local_date(recording.occurred_at, organisation.time_zone))


async def submit_form(
    tx: Tx,
    runtime: Runtime,
    token: str,
    data: ClientFormSubmission,
    *,
    request_id: str,
    source_address: str | None,
) -> ClientForm:
    """Store the client's answers, once: a second submission is a 409."""
    form, recording = await _open(tx, token)
    if form.used_at is not None:
        raise Conflict(problems.FORM_USED, "This form was submitted already; a link is used once.")
    rubric = runtime.registry.get(form.rubric_key, form.rubric_version)
    if rubric is None:
        raise Conflict(
            problems.RUBRIC_NOT_INSTALLED,
            "This form's rubric is no longer installed here; ask the clinic for a new link.",
        )
    await _not_rated_yet(tx, recording, rubric.key)
    now = utcnow()
    review = await reviews.record_client_rating(tx, runtime, recording, rubric, data.responses, now)
    if not await repository.mark_used(tx, form, review.id, now):
        raise Conflict(problems.FORM_USED, "This form was submitted already; a link is used once.")
    rating = ClientRating(
        org_id=form.org_id,
        review_id=review.id,
        recording_id=recording.id,
        rubric_key=rubric.key,
        rubric_version=rubric.version,
        source="link",
        external_id=None,
        submitted_by_id=None,
        form_id=form.id,
        completed_at=now,
    )
    await db.insert(
        tx,
        rating,
        conflict=Conflict(problems.ALREADY_RATED, "This session was rated by its client at the same moment; retry."),
    )
    await audit.record(
        tx,
        None,
        "client_rating.submit",
        "review",
        review.id,
        org_id=form.org_id,
        request_id=request_id,
        source_address=source_address,
    )
    await events.record(tx, form.org_id, _submitted(rating, review))
    form.used_at, form.review_id = now, review.id
    return form
