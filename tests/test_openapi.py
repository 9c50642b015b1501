"""The served OpenAPI document is product: committed, complete, and honest about errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supervise.cli import openapi_document
from supervise.http import PROBLEM_JSON
from tests.support import Api, Org

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}
COMPUTATIONS = {"scoreRubricResponses"}  # POSTs that compute and store nothing: no Idempotency-Key needed
# POSTs that move a resource to its next state: retried safely with an Idempotency-Key, answered with 200.
TRANSITIONS = {"cancelReviewRequest", "submitReview", "acknowledgeReview", "rotateWebhookSecret", "redeliverWebhook"}
# POSTs through a one-time link, without an API key: the link is used once (a second submission is 409).
ONCE_BY_LINK = {"submitForm"}
# POSTs that write many resources, each reported in the answer: 200 with one result per item, no Location.
BATCHES = {"upsertRecordings"}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    paths = openapi_document()["paths"]
    return [(path, method, op) for path, item in paths.items() for method, op in item.items() if method in METHODS]


def test_committed_schema_is_current() -> None:
    generated = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == generated, (
        "openapi/openapi.json is stale: run 'uv run supervise openapi --output openapi/openapi.json'"
    )


def test_every_operation_has_id_summary_and_problem_responses() -> None:
    seen_ids = set()
    shared = openapi_document()["components"]["responses"]
    for path, method, op in operations():
        assert op.get("operationId"), (method, path)
        assert op["operationId"] not in seen_ids
        seen_ids.add(op["operationId"])
        assert op.get("summary"), (method, path)
        for status, declared in op["responses"].items():
            response = shared[declared["$ref"].rpartition("/")[2]] if "$ref" in declared else declared
            if int(status) >= 400 and path != "/readyz":
                assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
        if path.startswith("/v1/") and op["security"] != []:  # every route but a form link's takes a key
            assert "401" in op["responses"], (method, path)


def test_write_operations_document_idempotency_and_preconditions() -> None:
    for path, method, op in operations():
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if method == "post" and op["operationId"] in COMPUTATIONS:
            assert "201" not in op["responses"], path
        elif method == "post" and op["operationId"] in ONCE_BY_LINK:
            assert op["security"] == [] and {"200", "404", "409"} <= set(op["responses"]), path
        elif method == "post" and op["operationId"] in TRANSITIONS:
            assert "Idempotency-Key" in headers and "If-Match" in headers, path
            assert "200" in op["responses"] and "409" in op["responses"], path
        elif method == "post" and op["operationId"] in BATCHES:
            assert "Idempotency-Key" in headers and "201" not in op["responses"], path
            assert "200" in op["responses"] and "422" in op["responses"], path
        elif method == "post" and path.startswith("/v1/"):
            assert "Idempotency-Key" in headers, path
            assert "201" in op["responses"], path
            assert "Location" in op["responses"]["201"].get("headers", {}), path
        if "Idempotency-Key" in headers:
            assert "422" in op["responses"], (path, "a key reused with another request is a 422")
        if method == "patch":
            assert "If-Match" in headers, path
            assert {"412", "428"} <= set(op["responses"]), path


def test_docs_and_schema_are_served(anonymous: Api) -> None:
    assert anonymous.get("/schema/openapi.json").status_code == 200
    docs = anonymous.client.get("/docs", follow_redirects=True)
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


def _responses(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(where, response)`` of every response object: each operation's, resolved, and the shared ones."""
    shared = document["components"]["responses"]
    found = [(f"components/responses/{name}", response) for name, response in shared.items()]
    for path, method, op in operations():
        for status, response in op["responses"].items():
            resolved = shared[response["$ref"].rpartition("/")[2]] if "$ref" in response else response
            found.append((f"{method} {path} {status}", resolved))
    return found


def test_every_response_header_is_declared_with_a_schema() -> None:
    """Generated clients type a header from its schema (without one it is ``unknown``)."""
    document = openapi_document()
    components = document["components"]["headers"]
    for where, response in _responses(document):
        headers = response.get("headers", {})
        assert "X-Request-ID" in headers and "Cache-Control" in headers, where
        for name, header in headers.items():
            resolved = components[header["$ref"].rpartition("/")[2]] if "$ref" in header else header
            assert resolved.get("schema", {}).get("type") == "string", (where, name)
        if where.endswith((" 429", " 503")) or where.endswith("TooManyRequests"):
            assert "Retry-After" in headers, where


def test_answers_carry_the_headers_their_operation_declares(org: Org) -> None:
    made = org.admin.api.post("/v1/members", json={"name": "H", "roles": [], "kind": "integration"})
    declared = next(op for _, _, op in operations() if op["operationId"] == "createMember")["responses"]["201"]
    for name in declared["headers"]:
        if name != "Idempotent-Replayed":  # only on a replay
            assert name.lower() in made.headers, name


def test_fields_with_defaults_are_not_required() -> None:
    """A client may leave out what has a default (a member's ``kind``, the ``segments`` of responses). (The
    TypeScript generator must run with ``--default-non-nullable=false``: by default openapi-typescript makes
    every property with a default non-optional, whatever ``required`` says.)"""
    schemas = openapi_document()["components"]["schemas"]
    for name, schema in schemas.items():
        for field, declared in schema.get("properties", {}).items():
            if "default" in declared:
                assert field not in schema.get("required", []), (name, field)
    assert "kind" not in schemas["MemberCreate"].get("required", [])
    assert schemas["MemberCreate"]["properties"]["kind"]["default"] == "person"
    assert "segments" not in schemas["Responses"].get("required", [])
