"""What this FHIR endpoint serves, as a ``CapabilityStatement`` (``GET /v1/fhir/metadata``): generic FHIR
clients read it first."""

from __future__ import annotations

from supervise import __version__
from supervise.fhir.questionnaire import BASE
from supervise.fhir.schemas import (
    CapabilityStatement,
    Implementation,
    Interaction,
    Operation,
    Rest,
    RestResource,
    SearchParam,
    Software,
)

__all__ = ["STATEMENT_DATE", "capability_statement"]

STATEMENT_DATE = "2026-12-07"
"""When what this endpoint serves last changed (a fixed date: the statement is the same at every request)."""

_READ, _SEARCH = Interaction(code="read"), Interaction(code="search-type")


def capability_statement(base: str) -> CapabilityStatement:
    return CapabilityStatement(
        status="active",
        date=STATEMENT_DATE,
        kind="instance",
        fhir_version="4.0.1",
        software=Software(name="supervise", version=__version__),
        implementation=Implementation(description="supervise: rubrics, reviews and scores as FHIR R4", url=base),
        format=["application/fhir+json"],
        rest=[
            Rest(
                mode="server",
                documentation="Read-only. Errors are application/problem+json (RFC 9457), as in the rest of the API.",
                resource=[
                    RestResource(
                        type="Questionnaire",
                        interaction=[_READ, _SEARCH],
                        search_param=[
                            SearchParam(name="url", type="uri", documentation="The canonical URL, without version."),
                            SearchParam(name="version", type="token"),
                        ],
                    ),
                    RestResource(type="QuestionnaireResponse", interaction=[_READ]),
                    RestResource(
                        type="Observation",
                        interaction=[_READ, _SEARCH],
                        search_param=[
                            SearchParam(
                                name="derived-from",
                                type="reference",
                                documentation="Required: QuestionnaireResponse/<review id>.",
                            )
                        ],
                    ),
                ],
                operation=[
                    Operation(
                        name="export",
                        definition=f"{BASE}/OperationDefinition/export",
                        documentation="GET $export?start=&end=: a paged searchset Bundle of the reviews received "
                        "in [start, end) (submitted, or a client rating arrived), each with its Observations and "
                        "Questionnaire. Synchronous: not Bulk Data.",
                    )
                ],
            )
        ],
    )
