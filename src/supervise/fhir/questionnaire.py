"""A rubric version as a FHIR R4 ``Questionnaire``, built from its definition alone (so a snapshot serves too).

- One item per rubric item, ``linkId`` = the item key. Ordinal items with whole-number points (at most
  :data:`MAX_OPTIONS` of them) are ``choice`` items whose ``answerOption``\\ s are the scale points, each
  carrying the value it is scored as in the ``itemWeight`` extension (reverse keying applied: ``min + max -
  value``); other ordinal items (SRS's 0-10 in tenths) are ``decimal`` items bounded by ``minValue`` and
  ``maxValue``; counts are ``integer`` items, markers ``boolean``. Help text is a ``display`` child with the
  ``help`` item control.
- Segment items (3RS) sit in a repeating group ``time-segment`` with its ``time-segment.start-ms`` and
  ``time-segment.end-ms``.
- Every score a result carries (subscales, the total, a plugin's extra scores) is a read-only ``decimal`` item
  ``score.<key>``: subscales and the total with an SDC ``calculatedExpression`` (FHIRPath over the answers'
  weights); a plugin's own scores with none (its code computes them) and a description saying so.

Item keys are lower-case letters, digits and underscores, so ``score.``, ``time-segment`` and ``.help`` linkIds
never collide with them.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Literal

from supervise.fhir.schemas import (
    AnswerOption,
    CodeableConcept,
    Coding,
    Expression,
    Extension,
    Questionnaire,
    QuestionnaireItem,
)
from supervise.rubrics.model import COUNT_LIMIT, CountScale, Item, OrdinalScale, RubricDefinition

__all__ = [
    "BASE",
    "CALCULATED_EXPRESSION",
    "ITEM_WEIGHT",
    "MAX_OPTIONS",
    "SCALE_POINTS",
    "SEGMENT",
    "build_questionnaire",
    "canonical",
    "fhir_id",
    "is_choice",
    "point_code",
    "questionnaire_id",
    "questionnaire_url",
    "score_link",
]

BASE = "https://supervise.dev/fhir"
"""Where our canonical URLs and identifier systems live: the same on every installation, as a rubric's
definition is (``(key, version)`` names one definition everywhere)."""
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
CALCULATED_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
SCALE_POINTS = f"{BASE}/CodeSystem/scale-point"
"""The codes of ordinal answer options: the point's value as written (``4``, ``0.5``)."""
SEGMENT = "time-segment"
MAX_OPTIONS = 21
"""More points than this (or points that are not whole numbers) make a ``decimal`` item, not a list."""

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def fhir_id(*parts: str) -> str:
    """Our ids joined with ``-`` as a FHIR id: characters FHIR ids lack (``_``, ``+``) become ``.``; one that
    would be longer than 64 characters is shortened to its start and a digest of the whole."""
    joined = re.sub(r"[^A-Za-z0-9\-.]", ".", "-".join(parts))
    if _FHIR_ID.match(joined):
        return joined
    return f"{joined[:47]}-{hashlib.sha256(joined.encode()).hexdigest()[:16]}"


def questionnaire_id(key: str, version: str) -> str:
    return fhir_id(key, version)


def questionnaire_url(key: str) -> str:
    return f"{BASE}/Questionnaire/{key}"


def canonical(key: str, version: str) -> str:
    """``url|version``: how a response names the questionnaire it answers."""
    return f"{questionnaire_url(key)}|{version}"


def score_link(key: str) -> str:
    return f"score.{key}"


def point_code(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def is_choice(scale: OrdinalScale) -> bool:
    points = (scale.max - scale.min) / scale.step + 1
    whole = all(float(v).is_integer() for v in (scale.min, scale.max, scale.step))
    return whole and round(points) <= MAX_OPTIONS


def _points(scale: OrdinalScale) -> list[float]:
    count = round((scale.max - scale.min) / scale.step)
    return [scale.min + i * scale.step for i in range(count + 1)]


def _weight(item: Item, value: float) -> float:
    scale = item.scale
    assert isinstance(scale, OrdinalScale)
    return scale.min + scale.max - value if item.reverse else value


def _bounds(low: float | None, high: float | None, *, integer: bool) -> list[Extension]:
    def bound(url: str, value: float) -> Extension:
        return Extension(url=url, value_integer=int(value)) if integer else Extension(url=url, value_decimal=value)

    bounds = []
    if low is not None and math.isfinite(low):
        bounds.append(bound(MIN_VALUE, low))
    if high is not None and math.isfinite(high):
        bounds.append(bound(MAX_VALUE, high))
    return bounds


def _help(item: Item) -> list[QuestionnaireItem]:
    if not item.help:
        return []
    control = CodeableConcept(coding=[Coding(system="http://hl7.org/fhir/questionnaire-item-control", code="help")])
    return [
        QuestionnaireItem(
            extension=[Extension(url=ITEM_CONTROL, value_codeable_concept=control)],
            link_id=f"{item.key}.help",
            text=item.help,
            type="display",
        )
    ]


def _question(item: Item) -> QuestionnaireItem:
    scale = item.scale
    kind: Literal["boolean", "decimal", "integer", "choice"] = "boolean"
    extension: list[Extension] = []
    options: list[AnswerOption] = []
    if isinstance(scale, CountScale):
        kind, extension = "integer", _bounds(0, scale.max if scale.max is not None else COUNT_LIMIT, integer=True)
    elif isinstance(scale, OrdinalScale) and is_choice(scale):
        labels = {point_code(anchor.value): anchor.label for anchor in scale.anchors}
        kind = "choice"
        options = [
            AnswerOption(
                extension=[Extension(url=ITEM_WEIGHT, value_decimal=_weight(item, point))],
                value_coding=Coding(system=SCALE_POINTS, code=point_code(point), display=labels.get(point_code(point))),
            )
            for point in _points(scale)
        ]
    elif isinstance(scale, OrdinalScale):
        kind, extension = "decimal", _bounds(scale.min, scale.max, integer=False)
    return QuestionnaireItem(
        extension=extension,
        link_id=item.key,
        text=item.label,
        type=kind,
        required=item.required,
        answer_option=options,
        item=_help(item),
    )


def _term(item: Item) -> str:
    """FHIRPath for the scored value of one answered item."""
    path = f"%resource.repeat(item).where(linkId = '{item.key}').answer.value"
    scale = item.scale
    assert isinstance(scale, OrdinalScale)
    if is_choice(scale):
        return f"{path}.weight()"
    if item.reverse:
        return f"({point_code(scale.min + scale.max)} - {path})"
    return path


def _calculated(items: list[Item], how: str, what: str) -> list[Extension]:
    """The ``variable`` holding the answered items' scored values, and the expression combining them."""
    values = ".combine(".join(_term(item) for item in items) + ")" * (len(items) - 1)
    combined = "%values.aggregate($this + $total, 0)"
    expression = combined if how == "sum" else f"iif(%values.count() > 0, {combined} / %values.count(), {{}})"
    return [
        Extension(
            url=VARIABLE,
            value_expression=Expression(name="values", language="text/fhirpath", expression=values),
        ),
        Extension(
            url=CALCULATED_EXPRESSION,
            value_expression=Expression(
                language="text/fhirpath", expression=expression, description=f"{how} of {what}"
            ),
        ),
    ]


def _scores(definition: RubricDefinition) -> list[QuestionnaireItem]:
    by_key = {item.key: item for item in definition.items}
    subscales = {subscale.key: subscale for subscale in definition.subscales}
    total_items = [i for i in definition.items if i.level == "session" and isinstance(i.scale, OrdinalScale)]
    scored = []
    for spec in definition.scores:
        extension = _bounds(spec.min, spec.max, integer=False)
        text = spec.label
        if spec.key in subscales:
            subscale = subscales[spec.key]
            members = [by_key[key] for key in subscale.items]
            extension += _calculated(members, subscale.aggregate, f"items {', '.join(subscale.items)}")
        elif spec.key == "total" and definition.total is not None and total_items:
            extension += _calculated(total_items, definition.total, "the session-level ordinal items")
        elif spec.description:
            text = f"{spec.label}: {spec.description}"
        scored.append(
            QuestionnaireItem(
                extension=extension, link_id=score_link(spec.key), text=text, type="decimal", read_only=True
            )
        )
    return scored


def _segment_group(definition: RubricDefinition) -> list[QuestionnaireItem]:
    segment_items = [item for item in definition.items if item.level == "segment"]
    if definition.unit != "segment" or not segment_items:
        return []
    span = [
        QuestionnaireItem(
            link_id=f"{SEGMENT}.start-ms",
            text="Segment start (ms into the recording)",
            type="integer",
            required=True,
            extension=_bounds(0, None, integer=True),
        ),
        QuestionnaireItem(
            link_id=f"{SEGMENT}.end-ms",
            text="Segment end (ms into the recording)",
            type="integer",
            required=True,
            extension=_bounds(1, None, integer=True),
        ),
    ]
    length = f" ({definition.segment_ms // 60_000} minutes by the manual)" if definition.segment_ms else ""
    return [
        QuestionnaireItem(
            link_id=SEGMENT,
            text=f"Time segment{length}",
            type="group",
            required=True,
            repeats=True,
            item=[*span, *(_question(item) for item in segment_items)],
        )
    ]


def build_questionnaire(definition: RubricDefinition, *, installed: bool) -> Questionnaire:
    """The rubric version as a Questionnaire; ``installed`` false: served from its snapshot (``retired``)."""
    session_items = [_question(item) for item in definition.items if item.level == "session"]
    roles = ", ".join(definition.rater_roles)
    return Questionnaire(
        id=questionnaire_id(definition.key, definition.version),
        url=questionnaire_url(definition.key),
        version=definition.version,
        title=definition.title,
        status="active" if installed else "retired",
        description=f"{definition.description}\n\nCitation: {definition.citation}",
        purpose=f"Rated per {definition.unit} by: {roles}. Manual version {definition.manual_version}.",
        copyright=definition.licence,
        item=[*session_items, *_segment_group(definition), *_scores(definition)],
    )
