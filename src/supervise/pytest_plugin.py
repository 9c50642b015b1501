"""supervise's pytest plugin: a real application, in process, for a rubric plugin's tests.

Installed with supervise (the ``pytest11`` entry point), so a plugin's tests only ask for the fixture::

    def test_a_review_with_my_rubric_is_scored_and_flagged(supervise_app):
        review = supervise_app.review("my-rubric", {"items": {"agenda": 0, "summary": 0, "empathy": 1, "repair": 0}})
        assert review["result"]["scores"]["total"] == 1.0
        flags = supervise_app.supervisor.get("/v1/aggregates/flags").json()["items"]
        assert [flag["code"] for flag in flags] == ["below_standard"]

``supervise_app`` is the application of ``supervise serve`` on a temporary SQLite database (one per test
session, migrated to head), with every installed plugin loaded (override the ``supervise_plugins`` fixture
to load only some), and for each test a fresh organisation: an admin, a supervisor linked to a clinician,
a clinic system's integration key, and one case of the clinician's. Requests go through the HTTP client
exactly as a front end's would; nothing reads the database behind the API's back.

Nothing heavy is imported until a test asks for the fixture: a pytest run that does not use it pays
nothing for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar
    from litestar.testing import TestClient

    from supervise.config import Settings

__all__ = ["Caller", "SuperviseApp"]

FIRST_SESSION = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


@dataclass
class Caller:
    """One member of the test organisation, calling with their own API key."""

    id: str
    key: str
    client: TestClient[Litestar] = field(repr=False)

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.request(
            method, url, headers={"Authorization": f"Bearer {self.key}", **(headers or {})}, **kwargs
        )

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def _ok(response: httpx.Response, *expected: int) -> dict[str, Any]:
    if response.status_code not in (expected or (200, 201)):
        raise AssertionError(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body


@dataclass
class SuperviseApp:
    """The application under test and one organisation in it. Every helper fails with the server's problem
    (status and body) when the server refuses."""

    client: TestClient[Litestar] = field(repr=False)
    org_id: str
    admin: Caller
    supervisor: Caller
    """Linked to ``clinician``: sees their sessions, and reviews them."""
    clinician: Caller
    system: Caller
    """A clinic system's integration key: registers sessions and pushes client ratings."""
    case_id: str
    """One case of the clinician's: the client, by a pseudonymous reference."""
    sessions: int = 0

    def recording(self, **changes: Any) -> dict[str, Any]:
        """Register the case's next session (one week after the last), made by the clinician; ``changes``
        override fields of the body (see ``POST /v1/recordings``)."""
        self.sessions += 1
        body: dict[str, Any] = {
            "case_id": self.case_id,
            "occurred_at": (FIRST_SESSION + dt.timedelta(weeks=self.sessions - 1)).isoformat(),
            "session_number": self.sessions,
            "duration_ms": 3_000_000,
            "medium": "video",
            "media": {
                "uri": f"s3://clinic/sessions/{self.sessions}.mp4",
                "sha256": hashlib.sha256(f"session {self.sessions}".encode()).hexdigest(),
            },
            "consent": {"scope": "supervision", "expires_at": "2099-01-01T00:00:00Z"},
        }
        return _ok(self.clinician.post("/v1/recordings", json={**body, **changes}), 201)

    def review(
        self,
        rubric_key: str,
        responses: dict[str, Any],
        *,
        version: str | None = None,
        recording: dict[str, Any] | None = None,
        by: str = "supervisor",
    ) -> dict[str, Any]:
        """Start a review of ``recording`` (a new session when left out) with a rubric, save ``responses``
        (``{"items": {...}, "segments": [...]}``) and submit it; the submitted review (its ``result`` holds
        the scores and flags).
        ``by="supervisor"`` rates as the supervisor; ``by="clinician"`` is the therapist's self-rating."""
        reviewer = {"supervisor": self.supervisor, "clinician": self.clinician}[by]
        session = recording or self.recording()
        start: dict[str, Any] = {"recording_id": session["id"], "rubric_key": rubric_key}
        if version is not None:
            start["rubric_version"] = version
        made = _ok(reviewer.post("/v1/reviews", json=start), 201)
        current = reviewer.get(f"/v1/reviews/{made['id']}")
        _ok(current, 200)
        saved = reviewer.patch(
            f"/v1/reviews/{made['id']}", json={"responses": responses}, headers={"If-Match": current.headers["etag"]}
        )
        _ok(saved, 200)
        return _ok(reviewer.post(f"/v1/reviews/{made['id']}/submit"), 200)

    def client_rating(
        self,
        rubric_key: str,
        responses: dict[str, Any],
        *,
        version: str | None = None,
        recording: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A client's completed form for ``recording`` (a new session when left out), pushed by the clinic
        system as ``POST /v1/client-ratings``; the stored rating, with its scores."""
        session = recording or self.recording()
        completed = dt.datetime.fromisoformat(session["occurred_at"].replace("Z", "+00:00")) + dt.timedelta(hours=1)
        body: dict[str, Any] = {
            "recording_id": session["id"],
            "rubric_key": rubric_key,
            "responses": responses,
            "completed_at": completed.isoformat(),
        }
        if version is not None:
            body["rubric_version"] = version
        return _ok(self.system.post("/v1/client-ratings", json=body), 201)


@pytest.fixture(scope="session")
def supervise_plugins() -> str | None:
    """The plugin distributions the application loads, comma-separated as ``SUPERVISE_PLUGINS`` takes them;
    ``None`` (the default) loads every installed plugin. Override it in your ``conftest.py`` to narrow it."""
    return None


@pytest.fixture(scope="session")
def supervise_settings(supervise_plugins: str | None, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a temporary SQLite database, migrated to head."""
    from alembic import command

    from supervise.config import Settings
    from supervise.db import alembic_config

    directory: Path = tmp_path_factory.mktemp("supervise")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{directory / 'supervise.db'}",
        secret_key=uuid.uuid4().hex * 2,
        plugins=supervise_plugins or "",
        rate_limit_per_address="1000000/minute",  # every in-process request comes from one address
        rate_limit_per_form_token="1000000/minute",  # noqa: S106 (a rate, not a secret)
    )
    command.upgrade(alembic_config(settings), "head")
    return settings


@pytest.fixture(scope="session")
def supervise_client(supervise_settings: Settings) -> Iterator[TestClient[Litestar]]:
    """The application, started once per test session, behind an HTTP test client."""
    from litestar.testing import TestClient

    from supervise.app import create_app

    with TestClient(create_app(supervise_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def supervise_app(supervise_client: TestClient[Litestar], supervise_settings: Settings) -> SuperviseApp:
    """A fresh organisation in the application under test (see the module's docstring)."""
    from supervise.cli import _create_org

    tag = uuid.uuid4().hex[:10]
    made = asyncio.run(_create_org(supervise_settings, f"Test clinic {tag}", "Admin", f"admin-{tag}@clinic.example"))
    admin = Caller(made["member_id"], made["api_key"], supervise_client)

    def member(role: str, *, kind: str = "person", scopes: list[str] | None = None) -> Caller:
        body: dict[str, Any] = {"name": role.title(), "roles": [role], "kind": kind}
        if kind == "person":
            body["email"] = f"{role}-{tag}@clinic.example"
        member_id = _ok(admin.post("/v1/members", json=body), 201)["id"]
        key: dict[str, Any] = {"name": "test"} if scopes is None else {"name": "test", "scopes": scopes}
        secret = _ok(admin.post(f"/v1/members/{member_id}/api-keys", json=key), 201)["secret"]
        return Caller(member_id, secret, supervise_client)

    supervisor, clinician = member("supervisor"), member("clinician")
    system = member(
        "admin", kind="integration", scopes=["recordings:write", "client-ratings:write", "client-ratings:read"]
    )
    _ok(admin.post("/v1/supervision-links", json={"supervisor_id": supervisor.id, "supervisee_id": clinician.id}), 201)
    case = _ok(clinician.post("/v1/cases", json={"therapist_id": clinician.id, "external_ref": f"case-{tag}"}), 201)
    return SuperviseApp(supervise_client, made["org_id"], admin, supervisor, clinician, system, case["id"])
