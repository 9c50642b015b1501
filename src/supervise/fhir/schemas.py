"""The FHIR R4 resources this service serves, as msgspec structures: only the elements it fills.

Field names are the Python spelling of FHIR's (``link_id`` is sent as ``linkId``); a field left at its default
is left out, as FHIR JSON has no nulls and no empty arrays. ``resourceType`` is the tag of every resource.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "AnswerOption",
    "Bundle",
    "BundleEntry",
    "BundleLink",
    "BundleSearch",
    "CapabilityStatement",
    "CodeableConcept",
    "Coding",
    "Expression",
    "Extension",
    "Identifier",
    "Observation",
    "Quantity",
    "Questionnaire",
    "QuestionnaireItem",
    "QuestionnaireResponse",
    "Reference",
    "ResponseAnswer",
    "ResponseItem",
]


class Element(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A FHIR element: defaults are left out of the JSON (so no element FHIR requires may have one)."""


class Coding(Element, kw_only=True):
    system: str | None = None
    version: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Element, kw_only=True):
    coding: list[Coding] = []
    text: str | None = None


class Identifier(Element, kw_only=True):
    system: str
    value: str


class Reference(Element, kw_only=True):
    reference: str | None = None
    """A literal reference on this server, e.g. ``QuestionnaireResponse/<id>``."""
    type: str | None = None
    identifier: Identifier | None = None
    """A logical reference: our opaque id of something this FHIR endpoint does not serve (a case, a session)."""


class Expression(Element, kw_only=True):
    language: str
    expression: str
    name: str | None = None
    description: str | None = None


class Extension(Element, kw_only=True):
    url: str
    value_decimal: float | None = None
    value_integer: int | None = None
    value_code: str | None = None
    value_string: str | None = None
    value_coding: Coding | None = None
    value_codeable_concept: CodeableConcept | None = None
    value_expression: Expression | None = None
    value_reference: Reference | None = None


class Quantity(Element, kw_only=True):
    value: float
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class AnswerOption(Element, kw_only=True):
    extension: list[Extension] = []
    value_coding: Coding


class QuestionnaireItem(Element, kw_only=True):
    extension: list[Extension] = []
    link_id: str
    text: str | None = None
    type: Literal["group", "display", "boolean", "decimal", "integer", "choice"]
    required: bool | None = None
    repeats: bool | None = None
    read_only: bool | None = None
    answer_option: list[AnswerOption] = []
    item: list[QuestionnaireItem] = []


class ResponseAnswer(Element, kw_only=True):
    value_boolean: bool | None = None
    value_decimal: float | None = None
    value_integer: int | None = None
    value_coding: Coding | None = None


class ResponseItem(Element, kw_only=True):
    link_id: str
    text: str | None = None
    answer: list[ResponseAnswer] = []
    item: list[ResponseItem] = []


class Resource(Element, kw_only=True, tag_field="resourceType"):
    id: str


class Questionnaire(Resource, kw_only=True, tag="Questionnaire"):
    extension: list[Extension] = []
    url: str
    version: str
    name: str | None = None
    title: str
    status: Literal["active", "retired"]
    """``active`` while a plugin provides it; ``retired`` when served from its snapshot, the plugin gone."""
    subject_type: list[str] = []
    description: str | None = None
    purpose: str | None = None
    copyright: str | None = None
    code: list[Coding] = []
    item: list[QuestionnaireItem] = []


class QuestionnaireResponse(Resource, kw_only=True, tag="QuestionnaireResponse"):
    extension: list[Extension] = []
    identifier: Identifier | None = None
    questionnaire: str
    """The canonical URL of the questionnaire with its version: ``url|version``."""
    status: Literal["completed", "amended"]
    subject: Reference | None = None
    encounter: Reference | None = None
    authored: str | None = None
    author: Reference | None = None
    item: list[ResponseItem] = []


class Observation(Resource, kw_only=True, tag="Observation"):
    status: Literal["final", "amended"]
    category: list[CodeableConcept] = []
    code: CodeableConcept
    subject: Reference | None = None
    encounter: Reference | None = None
    effective_date_time: str | None = None
    issued: str | None = None
    performer: list[Reference] = []
    value_quantity: Quantity | None = None
    data_absent_reason: CodeableConcept | None = None
    derived_from: list[Reference] = []


class BundleLink(Element, kw_only=True):
    relation: str
    url: str


class BundleSearch(Element, kw_only=True):
    mode: Literal["match", "include"]


class BundleEntry(Element, kw_only=True):
    full_url: str | None = None
    resource: Questionnaire | QuestionnaireResponse | Observation
    search: BundleSearch | None = None


class Bundle(Element, kw_only=True, tag_field="resourceType", tag="Bundle"):
    type: Literal["searchset", "collection"]
    total: int | None = None
    link: list[BundleLink] = []
    entry: list[BundleEntry] = []


class Software(Element, kw_only=True):
    name: str
    version: str | None = None


class Implementation(Element, kw_only=True):
    description: str
    url: str | None = None


class Interaction(Element, kw_only=True):
    code: Literal["read", "search-type"]


class SearchParam(Element, kw_only=True):
    name: str
    type: Literal["uri", "token", "reference", "date"]
    documentation: str | None = None


class Operation(Element, kw_only=True):
    name: str
    definition: str
    documentation: str | None = None


class RestResource(Element, kw_only=True):
    type: str
    interaction: list[Interaction] = []
    search_param: list[SearchParam] = []


class Rest(Element, kw_only=True):
    mode: Literal["server"]
    documentation: str | None = None
    resource: list[RestResource] = []
    operation: list[Operation] = []


class CapabilityStatement(Element, kw_only=True, tag_field="resourceType", tag="CapabilityStatement"):
    status: Literal["active"]
    date: str
    kind: Literal["instance"]
    software: Software
    implementation: Implementation
    fhir_version: Literal["4.0.1"]
    format: list[str] = []
    rest: list[Rest] = []
