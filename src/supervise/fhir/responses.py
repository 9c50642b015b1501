"""A submitted review (or client rating) as a FHIR R4 ``QuestionnaireResponse``, and its stored scores as
``Observation``\\ s derived from it.

Nobody is named: the subject is the case and the encounter the recorded session, both by our opaque ids
(logical references, as this endpoint serves neither); the author is the reviewing member by id (none for a
client rating). Scores are the ones stored at submission, never recomputed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from supervise.fhir.questionnaire import (
    BASE,
    SCALE_POINTS,
    SEGMENT,
    canonical,
    fhir_id,
    is_choice,
    point_code,
    score_link,
)
from supervise.fhir.schemas import (
    CodeableConcept,
    Coding,
    Extension,
    Identifier,
    Observation,
    Quantity,
    QuestionnaireResponse,
    Reference,
    ResponseAnswer,
    ResponseItem,
)
from supervise.rubrics.model import BooleanScale, CountScale, Item, OrdinalScale, Responses, RubricDefinition, Value

__all__ = [
    "CASE_SYSTEM",
    "MEMBER_SYSTEM",
    "RECORDING_SYSTEM",
    "REVIEW_SYSTEM",
    "Rating",
    "build_observations",
    "build_response",
    "observation_id",
]

CASE_SYSTEM = f"{BASE}/sid/case-id"
RECORDING_SYSTEM = f"{BASE}/sid/recording-id"
MEMBER_SYSTEM = f"{BASE}/sid/member-id"
REVIEW_SYSTEM = f"{BASE}/sid/review-id"
RATER_ROLE = f"{BASE}/StructureDefinition/rater-role"
AMENDS = f"{BASE}/StructureDefinition/amends"
SCORES = f"{BASE}/CodeSystem"


@dataclass(frozen=True, kw_only=True)
class Rating:
    """What a response and its observations are built from: a submitted review, and its session."""

    id: uuid.UUID
    amends_id: uuid.UUID | None
    role: str
    reviewer_id: uuid.UUID | None
    submitted_at: dt.datetime
    """When the rater answered: a review's submission, or the ``completed_at`` of a client's form."""
    received_at: dt.datetime
    """When it reached this service (the observations' ``issued``): a submission, or a client rating's arrival."""
    responses: Responses
    scores: dict[str, float | None]
    case_id: uuid.UUID
    recording_id: uuid.UUID
    occurred_at: dt.datetime

    @property
    def amended(self) -> bool:
        return self.amends_id is not None


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _subject(rating: Rating) -> Reference:
    return Reference(identifier=Identifier(system=CASE_SYSTEM, value=str(rating.case_id)))


def _encounter(rating: Rating) -> Reference:
    return Reference(type="Encounter", identifier=Identifier(system=RECORDING_SYSTEM, value=str(rating.recording_id)))


def _author(rating: Rating) -> Reference | None:
    if rating.reviewer_id is None:
        return None  # a client rating: the client is no member, and is never named
    return Reference(type="Practitioner", identifier=Identifier(system=MEMBER_SYSTEM, value=str(rating.reviewer_id)))


def _answer(item: Item, value: Value) -> ResponseAnswer:
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return ResponseAnswer(value_boolean=bool(value))
    if isinstance(scale, CountScale):
        return ResponseAnswer(value_integer=int(value))
    assert isinstance(scale, OrdinalScale)
    if is_choice(scale):
        code = point_code(float(value))
        label = next((a.label for a in scale.anchors if point_code(a.value) == code), None)
        return ResponseAnswer(value_coding=Coding(system=SCALE_POINTS, code=code, display=label))
    return ResponseAnswer(value_decimal=float(value))


def _answers(items: list[Item], values: dict[str, Value]) -> list[ResponseItem]:
    return [
        ResponseItem(link_id=item.key, text=item.label, answer=[_answer(item, values[item.key])])
        for item in items
        if item.key in values
    ]


def build_response(definition: RubricDefinition, rating: Rating) -> QuestionnaireResponse:
    session = [item for item in definition.items if item.level == "session"]
    segment = [item for item in definition.items if item.level == "segment"]
    items = _answers(session, dict(rating.responses.items))
    for part in rating.responses.segments:
        span = [
            ResponseItem(link_id=f"{SEGMENT}.start-ms", answer=[ResponseAnswer(value_integer=part.start_ms)]),
            ResponseItem(link_id=f"{SEGMENT}.end-ms", answer=[ResponseAnswer(value_integer=part.end_ms)]),
        ]
        items.append(ResponseItem(link_id=SEGMENT, item=[*span, *_answers(segment, dict(part.items))]))
    for spec in definition.scores:
        value = rating.scores.get(spec.key)
        if value is not None:
            answer = [ResponseAnswer(value_decimal=float(value))]
            items.append(ResponseItem(link_id=score_link(spec.key), text=spec.label, answer=answer))
    extension = [Extension(url=RATER_ROLE, value_code=rating.role)]
    if rating.amends_id is not None:
        earlier = Reference(reference=f"QuestionnaireResponse/{rating.amends_id}")
        extension.append(Extension(url=AMENDS, value_reference=earlier))
    return QuestionnaireResponse(
        id=str(rating.id),
        extension=extension,
        identifier=Identifier(system=REVIEW_SYSTEM, value=str(rating.id)),
        questionnaire=canonical(definition.key, definition.version),
        status="amended" if rating.amended else "completed",
        subject=_subject(rating),
        encounter=_encounter(rating),
        authored=_instant(rating.submitted_at),
        author=_author(rating),
        item=items,
    )


def observation_id(review_id: uuid.UUID, score: str) -> str:
    return fhir_id(str(review_id), score)


_SURVEY = CodeableConcept(
    coding=[Coding(system="http://terminology.hl7.org/CodeSystem/observation-category", code="survey")]
)
_UNDEFINED = CodeableConcept(
    coding=[Coding(system="http://terminology.hl7.org/CodeSystem/data-absent-reason", code="not-a-number")],
    text="Undefined for these responses (e.g. a ratio over zero, or no item of the subscale answered).",
)


def build_observations(definition: RubricDefinition, rating: Rating) -> list[Observation]:
    """One per score the result stored, in the rubric's order; an undefined score with a ``dataAbsentReason``."""
    status: Literal["final", "amended"] = "amended" if rating.amended else "final"
    author = _author(rating)
    observations = []
    for spec in definition.scores:
        if spec.key not in rating.scores:
            continue
        value = rating.scores[spec.key]
        code = Coding(
            system=f"{SCORES}/{definition.key}-scores", version=definition.version, code=spec.key, display=spec.label
        )
        observations.append(
            Observation(
                id=observation_id(rating.id, spec.key),
                status=status,
                category=[_SURVEY],
                code=CodeableConcept(coding=[code], text=spec.label),
                subject=_subject(rating),
                encounter=_encounter(rating),
                effective_date_time=_instant(rating.occurred_at),
                issued=_instant(rating.received_at),
                performer=[author] if author is not None else [],
                value_quantity=None if value is None else Quantity(value=float(value), unit="score"),
                data_absent_reason=_UNDEFINED if value is None else None,
                derived_from=[Reference(reference=f"QuestionnaireResponse/{rating.id}")],
            )
        )
    return observations
