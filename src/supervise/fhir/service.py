"""FHIR reads over the same services as the JSON reads: rubric definitions (installed, or from their snapshot once
the plugin is gone) and reviews the caller may see (``reviews.service``: tenancy, blind review, consent, and
the read audit are theirs, unchanged)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from supervise import problems
from supervise.auth.principal import Principal
from supervise.db import Tx
from supervise.errors import Conflict, NotFound
from supervise.fhir.questionnaire import build_questionnaire, questionnaire_id
from supervise.fhir.responses import Rating, build_observations, build_response
from supervise.fhir.schemas import Observation, Questionnaire, QuestionnaireResponse
from supervise.pagination import PageRequest
from supervise.recordings import service as recordings
from supervise.reviews import service as reviews
from supervise.reviews.schemas import ReviewFilter
from supervise.reviews.service import Review
from supervise.rubrics import service as rubrics
from supervise.rubrics.model import RubricDefinition
from supervise.rubrics.registry import version_key
from supervise.runtime import Runtime

__all__ = [
    "Exported",
    "Rated",
    "export",
    "get_observation",
    "get_questionnaire",
    "get_response",
    "list_questionnaires",
    "observations_of",
]


@dataclass(frozen=True)
class Rated:
    """One submitted review as FHIR: its response, the observations of its scores, and its questionnaire."""

    response: QuestionnaireResponse
    observations: list[Observation]
    questionnaire: Questionnaire


@dataclass(frozen=True)
class Exported:
    rated: list[Rated]
    next_cursor: str | None


def list_questionnaires(runtime: Runtime, url: str | None, version: str | None) -> list[Questionnaire]:
    """Every installed rubric version, by key then version (filtered by canonical ``url`` and ``version``)."""
    registry = runtime.registry
    installed = sorted(registry.rubrics.values(), key=lambda r: (r.key, version_key(r.version)))
    found = [build_questionnaire(rubric.definition(), installed=True) for rubric in installed]
    return [q for q in found if (url is None or q.url == url) and (version is None or q.version == version)]


async def _definition(tx: Tx, runtime: Runtime, key: str, version: str) -> tuple[RubricDefinition, bool]:
    served = await rubrics.get_version(tx, runtime.registry, key, version)
    return served.definition, served.plugin is not None


async def get_questionnaire(tx: Tx, runtime: Runtime, questionnaire: str) -> Questionnaire:
    """By its id (``<key>-<version>``): installed, or a version reviews used whose plugin is gone."""
    registry = runtime.registry
    known = {*registry.rubrics, *((k, v) for k, versions in registry.retired.items() for v in versions)}
    match = next(((k, v) for k, v in known if questionnaire_id(k, v) == questionnaire), None)
    if match is None:
        raise NotFound("questionnaire")
    definition, installed = await _definition(tx, runtime, *match)
    return build_questionnaire(definition, installed=installed)


Definitions = dict[tuple[str, str], tuple[RubricDefinition, Questionnaire]]


async def _rated(tx: Tx, runtime: Runtime, review: Review, definitions: Definitions | None = None) -> Rated:
    received_at = review.received_at
    if review.state == "draft" or review.submitted_at is None or received_at is None or review.result is None:
        raise Conflict(
            problems.REVIEW_NOT_SUBMITTED,
            "The review is a draft: FHIR serves submitted reviews and client ratings only.",
        )
    at = (review.rubric_key, review.rubric_version)
    known = (definitions or {}).get(at)
    if known is None:
        definition, installed = await _definition(tx, runtime, *at)
        known = (definition, build_questionnaire(definition, installed=installed))
        if definitions is not None:
            definitions[at] = known
    definition, questionnaire = known
    recording = await recordings.recording_of(tx, review.org_id, review.recording_id)
    rating = Rating(
        id=review.id,
        amends_id=review.amends_id,
        role=review.role,
        reviewer_id=review.reviewer_id,
        submitted_at=review.submitted_at,
        received_at=received_at,
        responses=reviews.responses_of(review),
        scores=dict(review.result.get("scores", {})),
        case_id=recording.case_id,
        recording_id=recording.id,
        occurred_at=recording.occurred_at,
    )
    return Rated(
        response=build_response(definition, rating),
        observations=build_observations(definition, rating),
        questionnaire=questionnaire,
    )


async def get_response(tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID) -> Rated:
    """A review (any revision) the caller may see, as the JSON read shows it, and audited as that read is."""
    return await _rated(tx, runtime, await reviews.get_review(tx, principal, review_id))


async def observations_of(tx: Tx, runtime: Runtime, principal: Principal, review_id: uuid.UUID) -> list[Observation]:
    return (await get_response(tx, runtime, principal, review_id)).observations


async def get_observation(tx: Tx, runtime: Runtime, principal: Principal, observation: str) -> Observation:
    """``<review id>-<score key>``: one stored score of a review the caller may see."""
    try:
        review_id = uuid.UUID(observation[:36])
    except ValueError:
        raise NotFound("observation") from None
    if observation[36:37] != "-":
        raise NotFound("observation")
    found = await get_response(tx, runtime, principal, review_id)
    match = next((o for o in found.observations if o.id == observation), None)
    if match is None:
        raise NotFound("observation")
    return match


async def export(
    tx: Tx, runtime: Runtime, principal: Principal, page: PageRequest, start: dt.datetime, end: dt.datetime
) -> Exported:
    """The current revisions received in ``[start, end)`` (submitted, or a client rating arrived) that the
    caller may see, a page at a time, audited as the review list is."""
    where = ReviewFilter(received_from=start, received_before=end)
    found = await reviews.list_reviews(tx, runtime, principal, page, where)
    definitions: Definitions = {}
    rated = [await _rated(tx, runtime, review, definitions) for review in found.items]
    return Exported(rated, found.next_cursor)
