"""Every rubric's FHIR resources validate against an independent model library (fhir.resources, R4B models:
version 8 ships no R4 package), for every first-party rubric and the template plugin."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pydantic
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from supervise.fhir import examples
from supervise.fhir.questionnaire import CALCULATED_EXPRESSION, ITEM_WEIGHT, build_questionnaire, canonical
from supervise.fhir.responses import Rating, build_observations, build_response
from supervise.rubrics.model import CountScale, OrdinalScale, Responses, Rubric, SegmentResponses
from supervise.rubrics.registry import load_registry, neutral_responses

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "rubric-plugin" / "src" / "my_rubric" / "__init__.py"


def template_rubric() -> Rubric:
    spec = importlib.util.spec_from_file_location("my_rubric_template", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rubric: Rubric = module.MY_RUBRIC
    return rubric


RUBRICS = [*sorted(load_registry().rubrics.values(), key=lambda r: (r.key, r.version)), template_rubric()]
FIRST_PARTY = {"3rs", "alliance", "ctrs", "cts-r", "miti", "srs", "wai-o-s", "wai-sr", "my-rubric"}


def encoded(resource: msgspec.Struct) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(resource))
    return decoded


def top_responses(rubric: Rubric) -> Responses:
    """Every item at the top of its scale (counts 3, markers present): the other end from the neutral one."""

    def top(scale: object) -> int | float | bool:
        if isinstance(scale, OrdinalScale):
            return scale.max
        return 3 if isinstance(scale, CountScale) else True

    items = {i.key: top(i.scale) for i in rubric.items if i.level == "session"}
    segments: tuple[SegmentResponses, ...] = ()
    if rubric.unit == "segment":
        values = {i.key: top(i.scale) for i in rubric.items if i.level == "segment"}
        segments = tuple(
            SegmentResponses(start_ms=n * 300_000, end_ms=(n + 1) * 300_000, items=values) for n in range(2)
        )
    return Responses(items=items, segments=segments)


def rating(rubric: Rubric, responses: Responses, *, amends: uuid.UUID | None = None) -> Rating:
    return Rating(
        id=uuid.uuid4(),
        amends_id=amends,
        role="supervisor",
        reviewer_id=uuid.uuid4(),
        submitted_at=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC),
        received_at=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC),
        responses=responses,
        scores=dict(rubric.run_scoring(responses).scores),
        case_id=uuid.uuid4(),
        recording_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC),
    )


def test_every_first_party_rubric_and_the_template_are_covered() -> None:
    assert {r.key for r in RUBRICS} >= FIRST_PARTY


def link_ids(items: list[dict[str, Any]]) -> list[str]:
    return [link for item in items for link in (item["linkId"], *link_ids(item.get("item", [])))]


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: f"{r.key}-{r.version}")
def test_questionnaire_validates_and_carries_the_rubric(rubric: Rubric) -> None:
    questionnaire = encoded(build_questionnaire(rubric.definition(), installed=True))
    valid(Questionnaire, questionnaire, QUESTIONNAIRE_STATUSES)
    assert questionnaire["url"] == f"https://supervise.dev/fhir/Questionnaire/{rubric.key}"
    assert questionnaire["version"] == rubric.version
    links = link_ids(questionnaire["item"])
    assert {i.key for i in rubric.items} <= set(links)
    assert len(links) == len(set(links))
    by_link = {item["linkId"]: item for item in questionnaire["item"]}
    for group in questionnaire["item"]:
        by_link.update({child["linkId"]: child for child in group.get("item", [])})
    for item in rubric.items:
        declared = by_link[item.key]
        if declared["type"] == "choice":
            assert isinstance(item.scale, OrdinalScale)
            weights = {
                o["valueCoding"]["code"]: next(e["valueDecimal"] for e in o["extension"] if e["url"] == ITEM_WEIGHT)
                for o in declared["answerOption"]
            }
            low, high = item.scale.min, item.scale.max
            assert weights[str(int(low))] == (high if item.reverse else low)
            assert weights[str(int(high))] == (low if item.reverse else high)
    for spec in rubric.score_specs():
        score = by_link[f"score.{spec.key}"]
        assert score["readOnly"] is True and score["type"] == "decimal"
        calculated = [e for e in score.get("extension", []) if e["url"].endswith("calculatedExpression")]
        if spec.key == "total" or spec.key in {s.key for s in rubric.subscales}:
            assert calculated, spec.key


@pytest.mark.parametrize("rubric", RUBRICS, ids=lambda r: f"{r.key}-{r.version}")
def test_responses_and_observations_validate(rubric: Rubric) -> None:
    for responses in (neutral_responses(rubric), top_responses(rubric)):
        rated = rating(rubric, responses)
        response = encoded(build_response(rubric.definition(), rated))
        valid(QuestionnaireResponse, response, RESPONSE_STATUSES)
        assert response["questionnaire"] == canonical(rubric.key, rubric.version)
        assert response["questionnaire"].endswith(f"|{rubric.version}")
        assert response["status"] == "completed"
        answered = {item["linkId"] for item in response["item"]}
        assert set(responses.items) <= answered
        observations = [encoded(o) for o in build_observations(rubric.definition(), rated)]
        assert [o["code"]["coding"][0]["code"] for o in observations] == list(rated.scores)
        for observation in observations:
            valid(Observation, observation, OBSERVATION_STATUSES)
            assert observation["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{rated.id}"}]
            value = rated.scores[observation["code"]["coding"][0]["code"]]
            if value is None:
                assert "dataAbsentReason" in observation and "valueQuantity" not in observation
            else:
                assert observation["valueQuantity"]["value"] == value
    amended = encoded(
        build_response(rubric.definition(), rating(rubric, neutral_responses(rubric), amends=uuid.uuid4()))
    )
    valid(QuestionnaireResponse, amended, RESPONSE_STATUSES)
    assert amended["status"] == "amended"


def test_the_validator_refuses_what_fhir_refuses() -> None:
    """The library is strict enough to catch our mistakes: an unknown element, a missing required one."""
    rubric = RUBRICS[0]
    response = encoded(build_response(rubric.definition(), rating(rubric, neutral_responses(rubric))))
    for broken in ({**response, "reviewer": "x"}, {**response, "item": [{"text": "no linkId"}]}):
        with pytest.raises(pydantic.ValidationError):
            QuestionnaireResponse.model_validate(broken)


def fhir_json(value: Any, where: str = "") -> None:
    """What the library does not check: FHIR JSON has no nulls, no empty arrays or objects, no empty strings."""
    assert value is not None and value != "" and value != [] and value != {}, where
    if isinstance(value, dict):
        for key, member in value.items():
            fhir_json(member, f"{where}.{key}")
    elif isinstance(value, list):
        for index, member in enumerate(value):
            fhir_json(member, f"{where}[{index}]")


def valid(model: Any, resource: dict[str, Any], statuses: set[str] | None = None) -> None:
    """Validated by the library, and by what it leaves out: FHIR JSON's form and the status value set."""
    model.model_validate(resource)
    fhir_json(resource)
    if statuses is not None:
        assert resource["status"] in statuses


QUESTIONNAIRE_STATUSES = {"draft", "active", "retired", "unknown"}
RESPONSE_STATUSES = {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
OBSERVATION_STATUSES = {"registered", "preliminary", "final", "amended"}


def test_a_subscale_with_nothing_answered_is_an_absent_value() -> None:
    rubric = next(r for r in RUBRICS if r.key == "miti")
    responses = neutral_responses(rubric)
    rated = rating(rubric, responses)
    undefined = [key for key, value in rated.scores.items() if value is None]
    assert undefined  # the ratios over zero reflections and questions
    for observation in build_observations(rubric.definition(), rated):
        if observation.code.coding[0].code in undefined:
            valid(Observation, encoded(observation), OBSERVATION_STATUSES)
            assert observation.data_absent_reason is not None


def test_the_documented_examples_are_valid_resources() -> None:
    valid(Questionnaire, encoded(examples.QUESTIONNAIRE), QUESTIONNAIRE_STATUSES)
    valid(QuestionnaireResponse, encoded(examples.RESPONSE), RESPONSE_STATUSES)
    valid(Observation, encoded(examples.OBSERVATION), OBSERVATION_STATUSES)
    valid(CapabilityStatement, encoded(examples.CAPABILITIES), {"active"})
    for bundle in (examples.BUNDLE, examples.QUESTIONNAIRES, examples.SCORES):
        valid(Bundle, encoded(bundle))


TOOLS = Path(__file__).resolve().parents[2] / "tools"


def random_responses(rubric: Rubric, seed: int) -> Responses:
    """Every session item at a random point of its scale (counts and markers too), and one optional item left
    out now and then: a mean is then over fewer items."""
    chosen = random.Random(seed)

    def pick(scale: object) -> int | float | bool:
        if isinstance(scale, OrdinalScale):
            return scale.min + chosen.randint(0, round((scale.max - scale.min) / scale.step)) * scale.step
        return chosen.randint(0, 9) if isinstance(scale, CountScale) else chosen.random() < 0.5

    items = {i.key: pick(i.scale) for i in rubric.items if i.level == "session"}
    optional = [i.key for i in rubric.items if i.level == "session" and not i.required]
    if optional and chosen.random() < 0.5:
        del items[chosen.choice(optional)]
    return Responses(items=items, segments=top_responses(rubric).segments)


@pytest.mark.slow
def test_the_calculated_items_compute_the_stored_scores_in_a_fhirpath_engine() -> None:
    """HL7's FHIRPath engine (fhirpath.js, from tools/) evaluates every subscale's and total's
    calculatedExpression over generated responses (reverse keying through the answer options' itemWeight) to
    the score the rubric's own scoring stored."""
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOLS, check=True, timeout=600)
    cases: list[dict[str, Any]] = []
    expected: dict[int, dict[str, float | None]] = {}
    for rubric in RUBRICS:
        definition = rubric.definition()
        questionnaire = encoded(build_questionnaire(definition, installed=True))
        for seed in range(5):
            rated = rating(rubric, random_responses(rubric, seed))
            response = encoded(build_response(definition, rated))
            cases.append({"q": questionnaire, "qr": response})
            expected[len(cases) - 1] = rated.scores
    done = subprocess.run(
        ["node", str(Path(__file__).with_name("calculated.js"))],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "NODE_PATH": str(TOOLS / "node_modules")},
    )
    results = json.loads(done.stdout)
    # in case order: each case gives one result per calculated item of its questionnaire
    sizes = [
        sum(
            1 for item in case["q"]["item"] if any(e["url"] == CALCULATED_EXPRESSION for e in item.get("extension", []))
        )
        for case in cases
    ]
    assert sum(sizes) == len(results) >= len(RUBRICS)  # 3RS has none: its scores are counts of segments
    position = 0
    for index, size in enumerate(sizes):
        for result in results[position : position + size]:
            stored = expected[index][result["score"]]
            assert (result["value"] is None) == (stored is None), (cases[index]["q"]["id"], result)
            if stored is not None:
                assert math.isclose(result["value"], stored, abs_tol=1e-6), (cases[index]["q"]["id"], result, stored)
        position += size
