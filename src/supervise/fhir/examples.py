"""Examples for the OpenAPI document, made by the same builders from a small two-item rubric."""

from __future__ import annotations

import datetime as dt
import uuid

from supervise.fhir.capabilities import capability_statement
from supervise.fhir.questionnaire import build_questionnaire
from supervise.fhir.responses import Rating, build_observations, build_response
from supervise.fhir.schemas import Bundle, BundleEntry, BundleLink, BundleSearch, Observation, Questionnaire
from supervise.fhir.schemas import QuestionnaireResponse as Response
from supervise.rubrics.model import Anchor, Item, OrdinalScale, Responses, Rubric, Subscale

__all__ = ["BUNDLE", "CAPABILITIES", "OBSERVATION", "QUESTIONNAIRE", "QUESTIONNAIRES", "RESPONSE", "SCORES"]

_SCALE = OrdinalScale(min=1, max=3, anchors=(Anchor(value=1, label="Not shown"), Anchor(value=3, label="Throughout")))
_RUBRIC = Rubric(
    key="example",
    version="1.0",
    title="Example rubric",
    description="Two items rated 1-3.",
    citation="supervise documentation.",
    licence="CC0",
    manual_version="1.0",
    rater_roles=("supervisor",),
    items=(
        Item(key="rapport", label="Rapport", scale=_SCALE, subscale="bond"),
        Item(key="warmth", label="Warmth", scale=_SCALE, subscale="bond"),
    ),
    subscales=(Subscale(key="bond", label="Bond", items=("rapport", "warmth")),),
)
_RESPONSES = Responses(items={"rapport": 2, "warmth": 3})
_RATING = Rating(
    id=uuid.UUID("0193a4b2-7c1d-7e4f-8a2b-3c4d5e6f7a8b"),
    amends_id=None,
    role="supervisor",
    reviewer_id=uuid.UUID("0193a4b2-7c1d-7e4f-8a2b-000000000002"),
    submitted_at=dt.datetime(2026, 12, 3, 16, 30, tzinfo=dt.UTC),
    received_at=dt.datetime(2026, 12, 3, 16, 30, tzinfo=dt.UTC),
    responses=_RESPONSES,
    scores=dict(_RUBRIC.run_scoring(_RESPONSES).scores),
    case_id=uuid.UUID("0193a4b2-7c1d-7e4f-8a2b-000000000003"),
    recording_id=uuid.UUID("0193a4b2-7c1d-7e4f-8a2b-000000000004"),
    occurred_at=dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC),
)
_BASE = "https://api.clinic.example/v1/fhir"

QUESTIONNAIRE: Questionnaire = build_questionnaire(_RUBRIC.definition(), installed=True)
RESPONSE: Response = build_response(_RUBRIC.definition(), _RATING)
OBSERVATION: Observation = build_observations(_RUBRIC.definition(), _RATING)[0]
BUNDLE = Bundle(
    type="searchset",
    link=[
        BundleLink(relation="self", url=f"{_BASE}/$export?start=2026-12-01T00:00:00Z&end=2027-01-01T00:00:00Z"),
        BundleLink(
            relation="next",
            url=f"{_BASE}/$export?start=2026-12-01T00:00:00Z&end=2027-01-01T00:00:00Z&cursor=eyJrIjoi...",
        ),
    ],
    entry=[
        BundleEntry(
            full_url=f"{_BASE}/QuestionnaireResponse/{RESPONSE.id}",
            resource=RESPONSE,
            search=BundleSearch(mode="match"),
        ),
        *(
            BundleEntry(
                full_url=f"{_BASE}/Observation/{observation.id}",
                resource=observation,
                search=BundleSearch(mode="include"),
            )
            for observation in build_observations(_RUBRIC.definition(), _RATING)
        ),
        BundleEntry(
            full_url=f"{_BASE}/Questionnaire/{QUESTIONNAIRE.id}",
            resource=QUESTIONNAIRE,
            search=BundleSearch(mode="include"),
        ),
    ],
)
QUESTIONNAIRES = Bundle(
    type="searchset",
    total=1,
    link=[BundleLink(relation="self", url=f"{_BASE}/Questionnaire")],
    entry=[
        BundleEntry(
            full_url=f"{_BASE}/Questionnaire/{QUESTIONNAIRE.id}",
            resource=QUESTIONNAIRE,
            search=BundleSearch(mode="match"),
        )
    ],
)
SCORES = Bundle(
    type="searchset",
    total=1,
    link=[BundleLink(relation="self", url=f"{_BASE}/Observation?derived-from=QuestionnaireResponse/{RESPONSE.id}")],
    entry=[
        BundleEntry(
            full_url=f"{_BASE}/Observation/{OBSERVATION.id}", resource=OBSERVATION, search=BundleSearch(mode="match")
        )
    ],
)
CAPABILITIES = capability_statement(_BASE)
