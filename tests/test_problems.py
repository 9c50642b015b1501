"""Problem types per cause: each type of the catalogue is raised by its situation, through real endpoints, and
the catalogue lists exactly the types the code can raise."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from litestar.testing import TestClient

from supervise import problems
from supervise.app import create_app
from supervise.auth import service as auth_service
from supervise.config import Settings
from supervise.idempotency import repository as idempotency_repository
from supervise.members import repository as members_repository
from supervise.problem_types import markdown
from supervise.problems import CATALOGUE
from supervise.reviews import annotations
from supervise.reviews.annotations import MAX_ANNOTATIONS
from tests.client_ratings.test_client_ratings import ehr, session, srs
from tests.recordings.test_api import recording_body
from tests.reviews.support import RUBRIC, Team, complete, full, make_team
from tests.support import Api, Org

SRC = Path(__file__).resolve().parents[1] / "src" / "supervise"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "problems.md"

Situation = Callable[[Org], "httpx.Response | tuple[httpx.Response, dict[str, str]]"]
SITUATIONS: dict[str, Situation] = {}

ELSEWHERE = {
    "rubric-not-installed": (
        "tests/reviews/test_workflow.py::test_amending_a_review_whose_rubric_version_is_gone_is_refused"
    ),
    "plugin-failure": "tests/rubrics/test_api.py::test_a_failing_plugin_is_a_problem_naming_it",
    "service-unavailable": "tests/test_cache.py::test_an_answer_whose_read_cannot_be_audited_is_not_sent",
    "write-too-slow": "tests/test_sync.py::test_a_write_past_the_deadline_is_rolled_back",
    "too-many-requests": "tests/test_problems.py::test_a_rate_limit_is_too_many_requests",
    "concurrent-write": "tests/test_problems.py::test_a_collision_of_two_writers_is_concurrent_write",
    "idempotency-key-in-use": "tests/test_problems.py::test_a_key_whose_first_request_is_in_flight_is_in_use",
    "last-admin": "tests/test_problems.py::test_two_admins_demoting_each_other_at_once_leave_one",
    "internal-server-error": "tests/test_problems.py::test_an_unexpected_failure_is_internal_server_error",
    "events-expired": "tests/events/test_feed.py::test_events_past_retention_are_pruned_and_an_old_cursor_is_refused",
    "address-refused": "tests/events/test_webhooks.py::test_unsafe_urls_are_refused_at_registration",
    "endpoint-disabled": "tests/events/test_webhooks.py::test_410_disables_the_endpoint_until_it_is_reactivated",
    "delivery-pending": "tests/events/test_webhooks.py::test_410_disables_the_endpoint_until_it_is_reactivated",
    "identity-provider-exists": "tests/auth/test_oidc.py::test_providers_are_managed_by_admins_and_audited",
    "cors-origin-refused": (
        "tests/test_cors.py::test_a_preflight_from_another_origin_is_refused_naming_only_the_origin"
    ),
    "cors-method-refused": "tests/test_cors.py::test_a_preflight_for_a_method_no_route_answers_is_refused_naming_it",
    "cors-headers-refused": (
        "tests/test_cors.py::test_a_preflight_for_a_header_the_api_does_not_read_is_refused_naming_each"
    ),
    "batch-duplicate": "tests/recordings/test_batch.py::test_the_same_external_id_twice_fails_both",
    "whole-period-required": (
        "tests/aggregates/test_sessions.py::test_team_cells_cannot_be_subtracted_to_recover_a_session"
    ),
}
"""Types whose situation needs an application of its own, a broken plugin or database, or a race: raised by the
test named (which names the type). Every other type is raised here by a request to the shared application."""


def situation(slug: str) -> Callable[[Situation], Situation]:
    def register(stage: Situation) -> Situation:
        assert slug in CATALOGUE, slug
        SITUATIONS[slug] = stage
        return stage

    return register


def _draft(team: Team) -> dict[str, Any]:
    return team.direct(team.supervisor)


def _submitted(team: Team) -> dict[str, Any]:
    return complete(team.supervisor, _draft(team))


@situation("invalid-request")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/members", json={"name": 7, "roles": ["admin"]})


@situation("invalid-cursor")
def _(org: Org) -> httpx.Response:
    return org.admin.api.get("/v1/members", params={"cursor": "bm90IGEgY3Vyc29y"})


@situation("unauthorized")
def _(org: Org) -> httpx.Response:
    return Api(org.client, "svk_nope_nope").get("/v1/me")


@situation("scope-missing")
def _(org: Org) -> httpx.Response:
    return org.member("admin", kind="integration", scopes=["recordings:write"]).api.get("/v1/members")


@situation("role-required")
def _(org: Org) -> httpx.Response:
    return org.member("clinician").api.post("/v1/members", json={"name": "X", "roles": [], "kind": "integration"})


@situation("not-permitted")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    return team.supervisor.api.post("/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": "C-9"})


@situation("scope-not-held")
def _(org: Org) -> httpx.Response:
    system = org.member("admin", kind="integration", scopes=["api-keys:write", "members:read"])
    return system.api.post(f"/v1/members/{system.id}/api-keys", json={"name": "k", "scopes": ["audit:read"]})


@situation("not-found")
def _(org: Org) -> httpx.Response:
    return org.admin.api.get("/v1/members/0190f5c4-6a5e-7cc1-8000-000000000001")


@situation("no-route")
def _(org: Org) -> httpx.Response:
    return org.admin.api.get("/v1/nowhere")


@situation("method-not-allowed")
def _(org: Org) -> httpx.Response:
    return org.admin.api.request("PUT", "/v1/members")


@situation("draft-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    draft = _draft(team)
    again = team.supervisor.api.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": RUBRIC})
    return again, {"draft_id": draft["id"]}


@situation("review-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    done = _submitted(team)
    again = team.supervisor.api.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": RUBRIC})
    return again, {"review_id": done["id"]}


@situation("request-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    first = team.request(team.supervisor, team.peer, "peer")
    return team.assign(team.supervisor, team.peer, "peer"), {"request_id": first["id"]}


@situation("request-closed")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    started = team.start(team.peer, request)
    return team.peer.api.post("/v1/reviews", json={"request_id": request["id"]}), {"review_id": started["id"]}


@situation("review-submitted")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    done = _submitted(team)
    return team.supervisor.api.patch(f"/v1/reviews/{done['id']}", json={}, headers={"If-Match": '"*"'})


@situation("review-not-submitted")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    return team.supervisor.api.post(f"/v1/reviews/{_draft(team)['id']}/amend", json={"reason": "typo"})


@situation("already-acknowledged")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    done = _submitted(team)
    url = f"/v1/reviews/{done['id']}/acknowledge"
    assert team.therapist.api.post(url, json={"usefulness": 4}).status_code == 200
    return team.therapist.api.post(url, json={"usefulness": 4})


@situation("superseded")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    done = _submitted(team)
    amended = team.supervisor.api.post(f"/v1/reviews/{done['id']}/amend", json={"reason": "typo"}).json()
    complete(team.supervisor, amended, value=4)
    again = team.supervisor.api.post(f"/v1/reviews/{done['id']}/amend", json={"reason": "again"})
    return again, {"superseded_by_id": amended["id"]}


@situation("not-for-this-role")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    recording_id = session(team, 4, "2026-10-06")
    rated = ehr(org).api.post("/v1/client-ratings", json=srs(recording_id, (9, 9, 9, 9), "2026-10-06"))
    assert rated.status_code == 201, rated.text
    return team.therapist.api.post(f"/v1/reviews/{rated.json()['id']}/acknowledge", json={"usefulness": 4})


@situation("consent-ended")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    draft = team.direct(team.therapist)  # a self-rating: its therapist still sees it once consent ended
    with time_machine.travel("2030-01-02T00:00:00Z", tick=False):  # the recording's consent expired on 1 January
        return team.therapist.api.patch(
            f"/v1/reviews/{draft['id']}", json={"comment": "c"}, headers={"If-Match": '"1"'}
        )


@situation("training-consent-missing")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    return org.admin.api.post(f"/v1/reviews/{_submitted(team)['id']}/reference")


@situation("not-a-reference-candidate")
def _(org: Org) -> httpx.Response:
    team = make_team(org, consent={"scope": "supervision_and_training", "expires_at": "2030-01-01T00:00:00Z"})
    return org.admin.api.post(f"/v1/reviews/{_draft(team)['id']}/reference")


@situation("reference-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org, consent={"scope": "supervision_and_training", "expires_at": "2030-01-01T00:00:00Z"})
    first = _submitted(team)
    assert org.admin.api.post(f"/v1/reviews/{first['id']}/reference").status_code in (200, 201)
    peer = team.start(team.peer, team.request(team.supervisor, team.peer, "peer"))
    second = complete(team.peer, peer)
    return org.admin.api.post(f"/v1/reviews/{second['id']}/reference"), {"review_id": first["id"]}


@situation("case-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    again = team.therapist.api.post(
        "/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": "C-2024-0173"}
    )
    return again, {"case_id": team.case_id}


@situation("external-id-used")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    first = team.therapist.api.post("/v1/recordings", json=recording_body(team.case_id, external_id="ehr-1")).json()
    other = recording_body(team.case_id, external_id="ehr-1", session_number=9)
    return team.therapist.api.post("/v1/recordings", json=other), {"recording_id": first["id"]}


@situation("batch-size")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/recordings:batch", json={"items": []})


@situation("already-rated")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    system = ehr(org)
    recording_id = session(team, 4, "2026-10-06")
    rated = system.api.post("/v1/client-ratings", json=srs(recording_id, (9, 9, 9, 9), "2026-10-06")).json()
    again = system.api.post("/v1/client-ratings", json=srs(recording_id, (5, 5, 5, 5), "2026-10-06"))
    return again, {"review_id": rated["id"]}


@situation("form-used")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    team = make_team(org)
    recording_id = session(team, 4, "2026-10-06")
    issued = team.therapist.api.post("/v1/client-forms", json={"recording_id": recording_id, "rubric_key": "srs"})
    form = issued.json()
    answers = {"responses": {"items": {"relationship": 9, "goals_topics": 9, "approach": 9, "overall": 9}}}
    assert Api(org.client, None).post(form["url"], json=answers).status_code == 200
    rating_id = team.therapist.api.get(f"/v1/client-forms/{form['id']}").json()["rating_id"]
    return team.therapist.api.delete(f"/v1/client-forms/{form['id']}"), {"review_id": rating_id}


@situation("blind-review-pending")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    admin_peer = org.member("admin", "clinician")
    team.request(team.supervisor, admin_peer, "peer")
    return admin_peer.api.get(f"/v1/aggregates/therapists/{team.therapist.id}/series", params={"rubric": RUBRIC})


@situation("link-exists")
def _(org: Org) -> tuple[httpx.Response, dict[str, str]]:
    supervisor, therapist = org.member("supervisor"), org.member("clinician")
    body = {"supervisor_id": supervisor.id, "supervisee_id": therapist.id}
    first = org.admin.api.post("/v1/supervision-links", json=body).json()
    return org.admin.api.post("/v1/supervision-links", json=body), {"link_id": first["id"]}


@situation("email-taken")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/members", json={"name": "Twin", "roles": [], "email": org.admin.email})


@situation("time-zone-fixed")
def _(org: Org) -> httpx.Response:
    _submitted(make_team(org))
    etag = org.admin.api.get("/v1/organisation").headers["etag"]
    return org.admin.api.patch("/v1/organisation", json={"time_zone": "Asia/Tokyo"}, headers={"If-Match": etag})


@situation("self-lockout")
def _(org: Org) -> httpx.Response:
    etag = org.admin.api.get(f"/v1/members/{org.admin.id}").headers["etag"]
    return org.admin.api.patch(f"/v1/members/{org.admin.id}", json={"active": False}, headers={"If-Match": etag})


@situation("annotation-limit")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    url = f"/v1/reviews/{_draft(team)['id']}/annotations"
    for start in range(MAX_ANNOTATIONS):
        assert team.supervisor.api.post(url, json={"start_ms": start, "kind": "note", "text": "n"}).status_code == 201
    return team.supervisor.api.post(url, json={"start_ms": 0, "kind": "note", "text": "one too many"})


@situation("precondition-failed")
def _(org: Org) -> httpx.Response:
    return org.admin.api.patch(f"/v1/members/{org.admin.id}", json={"name": "A"}, headers={"If-Match": '"99"'})


@situation("request-body-too-large")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/members", content=b"[" + b" " * 2_000_000 + b"]")


@situation("unsupported-media-type")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/members", content=b"name", headers={"Content-Type": "text/plain"})


@situation("idempotency-key-reused")
def _(org: Org) -> httpx.Response:
    key = {"Idempotency-Key": "k-1"}
    first = org.admin.api.post("/v1/members", json={"name": "I", "roles": [], "kind": "integration"}, headers=key)
    assert first.status_code == 201
    return org.admin.api.post("/v1/members", json={"name": "J", "roles": [], "kind": "integration"}, headers=key)


@situation("responses-invalid")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    draft = _draft(team)
    return team.supervisor.api.patch(
        f"/v1/reviews/{draft['id']}", json={"responses": full(99)}, headers={"If-Match": '"1"'}
    )


@situation("rubric-unknown")
def _(org: Org) -> httpx.Response:
    team = make_team(org)
    return team.supervisor.api.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": "nope"})


@situation("invalid-reference")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post(
        "/v1/cases", json={"therapist_id": "0190f5c4-6a5e-7cc1-8000-000000000001", "external_ref": "C-1"}
    )


@situation("invalid-value")
def _(org: Org) -> httpx.Response:
    return org.admin.api.post("/v1/members", json={"name": "P", "roles": [], "kind": "person"})


@situation("precondition-required")
def _(org: Org) -> httpx.Response:
    return org.admin.api.patch(f"/v1/members/{org.admin.id}", json={"name": "A"})


@situation("request-header-fields-too-large")
def _(org: Org) -> httpx.Response:
    return org.admin.api.get("/v1/me", headers={f"X-Filler-{i}": "x" for i in range(120)})


def test_every_type_is_raised_by_a_request_here_or_by_a_test_named() -> None:
    assert set(SITUATIONS) | set(ELSEWHERE) == set(CATALOGUE)
    assert not set(SITUATIONS) & set(ELSEWHERE)
    root = Path(__file__).resolve().parents[1]
    for slug, where in ELSEWHERE.items():
        path, _, name = where.partition("::")
        tree = ast.parse((root / path).read_text())
        [test] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
        assert f"/{slug}" in ast.unparse(test) or f"problems.{slug.upper().replace('-', '_')}" in ast.unparse(test), (
            f"{where} does not check the type {slug}"
        )


@pytest.mark.parametrize("slug", sorted(SITUATIONS))
def test_each_type_is_raised_by_its_situation(slug: str, org: Org) -> None:
    staged = SITUATIONS[slug](org)
    answer, ids = staged if isinstance(staged, tuple) else (staged, {})
    kind = CATALOGUE[slug]
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    body = answer.json()
    assert (answer.status_code, body["type"], body["title"], body["status"]) == (
        kind.status,
        kind.uri,
        kind.title,
        kind.status,
    ), body
    for name, value in ids.items():
        assert name in kind.extensions and body.get(name) == value, (name, body)


def _referenced() -> set[str]:
    """Every ``problems.NAME`` the source refers to, outside the catalogue itself."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "problems.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "problems"
                and node.attr.isupper()
            ):
                names.add(node.attr)
    return names


def test_the_catalogue_lists_exactly_the_types_the_code_raises() -> None:
    constants = {name for name, value in vars(problems).items() if isinstance(value, problems.ProblemType)}
    assert all(getattr(problems, name).slug == name.lower().replace("_", "-") for name in constants)
    assert {value.slug for name, value in vars(problems).items() if name in constants} == set(CATALOGUE)
    raised = _referenced()
    by_status_only = {name for name in constants if getattr(problems, name) in problems.BY_STATUS.values()}
    assert constants - raised - by_status_only == set(), "catalogue entries nothing raises"
    assert raised - constants - {"BY_STATUS", "CATALOGUE", "BASE"} == set()
    # nothing builds a problem type of its own: every type comes from the catalogue
    for path in SRC.rglob("*.py"):
        if path.name != "problems.py":
            assert "ProblemType(" not in path.read_text(), path


def test_the_catalogue_is_served_and_each_type_resolves(anonymous: Api) -> None:
    listed = anonymous.get("/problems")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["slug"] for item in items] == list(CATALOGUE)
    for item in items:
        assert item["type"] == problems.BASE + item["slug"]
        assert anonymous.get(f"/problems/{item['slug']}").json() == item
    assert anonymous.get("/problems/no-such-type").json()["type"] == problems.NOT_FOUND.uri


def test_docs_problems_md_is_current() -> None:
    assert DOCS.read_text() == markdown(), "run: uv run python -m supervise.problem_types > docs/problems.md"


def test_a_rate_limit_is_too_many_requests(settings: Settings) -> None:
    limited = Settings(database_url=settings.url, secret_key=settings.secret_key, rate_limit_per_address="2/minute")
    with TestClient(create_app(limited), raise_server_exceptions=False) as client:
        answers = [client.get("/v1/me") for _ in range(4)]
    assert answers[-1].status_code == 429
    assert answers[-1].json()["type"] == problems.TOO_MANY_REQUESTS.uri  # /too-many-requests


def test_a_collision_of_two_writers_is_concurrent_write(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two annotations given one id, as two writers racing for one row would be: the second is refused, and
    retrying is safe."""
    team = make_team(org)
    url = f"/v1/reviews/{_draft(team)['id']}/annotations"
    fixed = uuid.uuid4()
    monkeypatch.setattr(annotations, "new_id", lambda: fixed)
    assert team.supervisor.api.post(url, json={"start_ms": 1, "kind": "note", "text": "a"}).status_code == 201
    answer = team.supervisor.api.post(url, json={"start_ms": 2, "kind": "note", "text": "b"})
    assert (answer.status_code, answer.json()["type"]) == (409, problems.CONCURRENT_WRITE.uri)


def test_a_key_whose_first_request_is_in_flight_is_in_use(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests with one key are serialised by a lock; one that got past it while the first was in flight (staged:
    it finds no answer remembered, and the first one's record is written before its own) makes nothing twice:
    409, retry for the first one's answer."""
    key = {"Idempotency-Key": "in-flight"}
    body = {"name": "I", "roles": [], "kind": "integration"}
    assert org.admin.api.post("/v1/members", json=body, headers=key).status_code == 201

    async def not_yet(*_: Any) -> None:
        return None

    monkeypatch.setattr(idempotency_repository, "remembered", not_yet)
    monkeypatch.setattr(idempotency_repository, "forget_expired_and", not_yet)
    answer = org.admin.api.post("/v1/members", json=body, headers=key)
    assert (answer.status_code, answer.json()["type"]) == (409, problems.IDEMPOTENCY_KEY_IN_USE.uri)


def test_an_unexpected_failure_is_internal_server_error(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(auth_service, "list_keys", broken)
    answer = org.admin.api.get(f"/v1/members/{org.admin.id}/api-keys")
    assert (answer.status_code, answer.json()["type"]) == (500, problems.INTERNAL_SERVER_ERROR.uri)
    assert "a bug" not in answer.text


def test_two_admins_demoting_each_other_at_once_leave_one(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """The organisation's other admin was demoted by a request that committed while this one ran (staged: the
    lock finds the caller no longer an active admin): this demotion would leave none, and is refused."""
    other = org.member("admin")
    real = members_repository.lock_active_admins

    async def caller_demoted_meanwhile(tx: Any, org_id: Any) -> list[Any]:
        return [admin for admin in await real(tx, org_id) if str(admin) != org.admin.id]

    monkeypatch.setattr(members_repository, "lock_active_admins", caller_demoted_meanwhile)
    etag = org.admin.api.get(f"/v1/members/{other.id}").headers["etag"]
    answer = org.admin.api.patch(f"/v1/members/{other.id}", json={"roles": []}, headers={"If-Match": etag})
    assert (answer.status_code, answer.json()["type"]) == (409, problems.LAST_ADMIN.uri)
