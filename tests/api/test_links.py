"""The document's links, followed from creation to use: each names an operation that accepts what it passes.

For every link the served document declares on the review workflow, a fresh source response is made by
following links from a new case, then the link is followed and the answer is checked by schemathesis against
the document (every check). Together with the stateful run in test_schemathesis.py (random walks), this proves
the links a client would follow actually work.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from litestar import Litestar

from supervise.app import create_app
from supervise.config import Settings
from tests.api.test_schemathesis import ALL_CHECKS, CONFIG
from tests.recordings.test_api import recording_body
from tests.reviews.support import full
from tests.support import Org

# How to make a fresh response of an operation: follow this link from a fresh response of its source.
PRODUCERS = {
    "createRecording": ("createCase", "record"),
    "createReviewRequest": ("createRecording", "assign"),
    "createReview": ("createReviewRequest", "start"),
    "updateReview": ("createReview", "save"),
    "submitReview": ("updateReview", "submit"),
    "amendReview": ("submitReview", "amend"),
    "createAnnotation": ("createReview", "annotate"),
}
# What a request needs beyond what the link passes (the walker is its own therapist).
EXTRA: dict[tuple[str, str], Any] = {
    ("createCase", "record"): lambda me: {k: v for k, v in recording_body("x").items() if k != "case_id"},
    ("createRecording", "assign"): lambda me: {"reviewer_id": me, "role": "self", "rubric_key": "alliance"},
    ("createRecording", "review"): lambda me: {"rubric_key": "alliance"},
    ("createReview", "save"): lambda me: {"responses": full()},
    ("amendReview", "save"): lambda me: {"comment": "Corrected."},
    ("updateReview", "save"): lambda me: {"responses": full(6)},
    ("createReview", "annotate"): lambda me: {"start_ms": 1_000, "kind": "strength", "text": "Warm opening."},
    ("amendReview", "annotate"): lambda me: {"start_ms": 2_000, "kind": "note", "text": "Added on amending."},
    ("updateReview", "annotate"): lambda me: {"start_ms": 3_000, "kind": "repair", "text": "Repair."},
    ("submitReview", "amend"): lambda me: {"reason": "Trust was misread."},
    ("submitReview", "acknowledge"): lambda me: {"usefulness": 4},
}
# Links whose target rightly refuses the walker, and why.
EXPECTED = {
    ("createReview", "submit"): 422,  # a new draft has no responses yet: the problem lists the missing items
    ("submitReview", "acknowledge"): 409,  # the walker rates their own session: self-ratings are not acknowledged
}


class Walker:
    def __init__(self, schema: Any, org: Org) -> None:
        self.schema = schema
        self.me = org.member("admin", "supervisor", "clinician")
        self.links = {
            (op["operationId"], status): response.get("links", {})
            for item in schema.raw_schema["paths"].values()
            for op in item.values()
            if isinstance(op, dict) and "operationId" in op
            for status, response in op["responses"].items()
        }
        self.refs = 0

    def call(self, operation_id: str, *, path: dict[str, Any], body: Any, expected: int | None) -> Any:
        operation = self.schema.find_operation_by_id(operation_id)
        headers = {"Authorization": f"Bearer {self.me.api.key}"}
        if operation.method.upper() == "PATCH":
            headers["If-Match"] = "*"
        kwargs: dict[str, Any] = {"path_parameters": path, "headers": headers}
        if operation.body:
            kwargs["body"] = body
        case = operation.Case(**kwargs)
        response = case.call()
        case.validate_response(response, checks=ALL_CHECKS)
        if expected is None:
            assert 200 <= response.status_code < 300, (operation_id, response.text)
        else:
            assert response.status_code == expected, (operation_id, response.text)
        return response.json() if response.content else None, path

    def fresh(self, operation_id: str) -> tuple[Any, dict[str, Any]]:
        if operation_id == "createCase":
            self.refs += 1
            body = {"therapist_id": self.me.id, "external_ref": f"C-LINK-{self.refs}"}
            return self.call("createCase", path={}, body=body, expected=None)
        source, name = PRODUCERS[operation_id]
        return self.follow(source, name)

    def follow(self, source: str, name: str) -> tuple[Any, dict[str, Any]]:
        response, request_path = self.fresh(source)
        status = "200" if source in ("updateReview", "submitReview") else "201"
        link = self.links[(source, status)][name]

        def value(expression: Any) -> Any:
            if isinstance(expression, str) and expression.startswith("$response.body#/"):
                found = response
                for part in expression.removeprefix("$response.body#/").split("/"):
                    found = found[part]
                return found
            if isinstance(expression, str) and expression.startswith("$request.path."):
                return request_path[expression.removeprefix("$request.path.")]
            return expression

        path = {key: value(expr) for key, expr in (link.get("parameters") or {}).items()}
        body = {**EXTRA.get((source, name), lambda me: {})(self.me.id)}
        body.update({key: value(expr) for key, expr in (link.get("requestBody") or {}).items()})
        return self.call(link["operationId"], path=path, body=body, expected=EXPECTED.get((source, name)))


@pytest.fixture
def api_schema(settings: Settings) -> Any:
    app: Litestar = create_app(settings)
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app, config=CONFIG)


def test_every_workflow_link_leads_somewhere_that_accepts_it(api_schema: Any, org: Org) -> None:
    walker = Walker(api_schema, org)
    followed = []
    for (source, status), links in walker.links.items():
        if source not in {*PRODUCERS, "createCase"} or not links:
            continue
        for name in links:
            walker.follow(source, name)
            followed.append((source, status, name))
    assert len(followed) >= 25, followed
