"""Property-based API conformance: schemathesis drives every operation in-process with every check.

Every generated request is sent with the admin keys of two organisations. A stateful run then follows the
document's links from creation to use (a case, its recording, a review request, its review, annotations,
submission, amendment) as one member who is admin, supervisor and clinician.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.schemas import OpenApiSchema

from supervise.app import create_app
from supervise.config import Settings
from tests.support import Org, make_org

ALL_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.ignored_auth,
    checks.use_after_free,
    checks.ensure_resource_availability,
]


# 422 is how the API answers a request that matches the document but breaks a rule the document cannot
# express (a person without an email, a link to a member that does not exist): a valid-by-schema request
# may rightly get it; so may a generated If-Match, rightly stale (412), and a generated If-None-Match, rightly
# current (`*`: 304). Nothing else is relaxed.
ACCEPTED = ["2xx", "304", "401", "403", "404", "409", "412", "422"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}})


PER_ITEM = {"upsertRecordings"}
"""Operations that validate the items of their body one by one, answering each (``/v1/recordings:batch``)."""

CURRENT_KEY: dict[str, str | None] = {"key": None}
"""The API key the next call sends (each case is sent with the admin keys of two organisations in turn)."""


class CurrentKey:
    """Sends ``CURRENT_KEY`` the way the document declares auth, so schemathesis knows the header is ours:
    a generated case that leaves Authorization out on purpose is then judged as sent, not as generated."""

    def get(self, case: schemathesis.Case, context: Any) -> str | None:
        return CURRENT_KEY["key"]

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def api_schema(settings: Settings) -> OpenApiSchema:
    # An app of its own: schemathesis runs the app's lifespan on its own event loop.
    loaded = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(settings), config=CONFIG)
    loaded.auth(refresh_interval=None)(CurrentKey)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms(case: schemathesis.Case, org: Org, other_org: Org) -> None:
    selected = ALL_CHECKS
    if (case.query or {}).get("cursor"):
        # Cursors are opaque and signed: no schema can say which strings are valid, so a generated one is
        # rightly refused (400). Pagination and cursor tampering are tested in tests/test_http.py.
        selected = [check for check in ALL_CHECKS if check is not checks.positive_data_acceptance]
    if case.operation.definition.raw.get("operationId") in PER_ITEM:
        # A batch validates each item on its own and answers a malformed one in its result (200, `failed`), by
        # design: a body that breaks the document there is not refused whole. tests/recordings/test_batch.py
        # checks both the per-item problems and the bodies refused whole (400, 422).
        selected = [check for check in selected if check is not checks.negative_data_rejection]
    for tenant in (org, other_org):
        CURRENT_KEY["key"] = tenant.admin.api.key
        case.call_and_validate(checks=selected)


# Links only a test can know: which rubric this installation has, and that the caller is their own therapist.
TEST_LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("/v1/me", "get", "200"): {
        "case": {"operationId": "createCase", "requestBody": {"therapist_id": "$response.body#/member/id"}}
    },
    ("/v1/recordings", "post", "201"): {
        "assign": {
            "operationId": "createReviewRequest",
            "requestBody": {
                "recording_id": "$response.body#/id",
                "reviewer_id": "$response.body#/therapist_id",
                "role": "self",
                "rubric_key": "alliance",
            },
        },
        "review": {
            "operationId": "createReview",
            "requestBody": {"recording_id": "$response.body#/id", "rubric_key": "alliance"},
        },
    },
}


def with_test_links(app: Litestar) -> dict[str, Any]:
    document = copy.deepcopy(app.openapi_schema.to_schema())
    for (path, method, status), links in TEST_LINKS.items():
        response = document["paths"][path][method]["responses"][status]
        response["links"] = {**response.get("links", {}), **links}
    return document


@pytest.fixture
def state_machine(settings: Settings, client: TestClient[Litestar]) -> Any:
    app = create_app(settings)
    loaded = schemathesis.openapi.from_dict(with_test_links(app), config=CONFIG)
    loaded.app = app
    loaded.location = "/schema/openapi.json"
    # The review workflow (members, keys and rubrics are covered by test_api_conforms).
    workflow = loaded.include(tag=["Identity", "Recordings", "Reviews"])
    current: dict[str, str | None] = {"key": None}

    class ScenarioKey:
        """The key of the scenario's member, sent the way the document declares (so auth checks still run)."""

        def get(self, case: schemathesis.Case, context: Any) -> str | None:
            return current["key"]

        def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    workflow.auth(refresh_interval=None)(ScenarioKey)

    class AsOneMember(workflow.as_state_machine()):  # type: ignore[misc]
        """Every scenario starts in an organisation of its own, so its answers depend only on its own steps."""

        def setup(self) -> None:
            current["key"] = make_org(client, settings).member("admin", "supervisor", "clinician").api.key

        def before_call(self, case: schemathesis.Case) -> None:
            # Cursors are opaque and signed (see test_api_conforms): a generated one is rightly refused.
            if case.query:
                case.query.pop("cursor", None)

    return AsOneMember


def test_stateful_workflow_conforms(state_machine: Any) -> None:
    state_machine.run(
        settings=settings(
            max_examples=100,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
