"""Browser access: cross-origin calls from the configured front ends' origins, and from no other."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.config import ConfigError, Settings
from supervise.http import CORS_METHODS
from tests.support import Org

FRONT_END = "https://supervision.clinic.example"


@pytest.fixture
def browser_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    configured = msgspec.structs.replace(settings, cors_origins=f"{FRONT_END}, http://localhost:5173")
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


def test_a_preflight_from_a_front_end_allows_what_the_api_needs(browser_client: TestClient[Litestar]) -> None:
    asked = "authorization, content-type, if-match, if-none-match, idempotency-key"
    answer = browser_client.options(
        "/v1/reviews/01a24f32-2819-77e7-b6e0-56f36240496e",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == FRONT_END
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"DELETE", "GET", "PATCH", "POST"}
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert set(asked.split(", ")) <= allowed
    assert "access-control-allow-credentials" not in answer.headers  # bearer tokens, never cookies


def test_a_front_end_reads_the_headers_it_needs(browser_client: TestClient[Litestar], org: Org) -> None:
    answer = browser_client.get("/v1/me", headers={"Origin": FRONT_END, "Authorization": f"Bearer {org.admin.api.key}"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == FRONT_END
    assert "Origin" in answer.headers["vary"]
    exposed = set(answer.headers["access-control-expose-headers"].split(", "))
    assert exposed == {
        "ETag",
        "Location",
        "X-Request-ID",
        "Idempotent-Replayed",
        "Retry-After",
        "RateLimit",
        "RateLimit-Policy",
    }


def test_another_origin_gets_no_grant(browser_client: TestClient[Litestar], org: Org) -> None:
    preflight = browser_client.options(
        "/v1/members", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    read = browser_client.get(
        "/v1/me", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {org.admin.api.key}"}
    )
    assert "access-control-allow-origin" not in read.headers  # the browser withholds the answer from the page


def test_without_configured_origins_no_page_may_call(client: TestClient[Litestar]) -> None:
    read = client.get("/v1/me", headers={"Origin": FRONT_END})
    assert "access-control-allow-origin" not in read.headers
    plain = client.options("/v1/members")
    assert plain.status_code == 204
    assert plain.headers["allow"] == "GET, OPTIONS, POST"


@pytest.mark.parametrize(
    "value", ["*", "https://clinic.example/", "https://clinic.example/app", "clinic.example", "HTTPS://Clinic.example"]
)
def test_origins_are_exact_or_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="SUPERVISE_CORS_ORIGINS"):
        Settings(cors_origins=value).origins  # noqa: B018


def test_the_allowed_methods_are_the_routed_ones(app: Litestar) -> None:
    routed = {m for route in app.routes if isinstance(route, HTTPRoute) for m in route.methods} - {"OPTIONS", "HEAD"}
    assert routed == set(CORS_METHODS)
