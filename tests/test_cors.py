"""Browser access: cross-origin calls from the configured front ends' origins, and from no other."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from supervise import problems
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


def test_a_preflight_from_another_origin_is_refused_naming_only_the_origin(
    browser_client: TestClient[Litestar], org: Org
) -> None:
    """Before: Litestar's ``400 Disallowed CORS Origin`` in text/plain. Now a problem naming the origin as what
    was refused, and nothing of what the API allows (not the origins it lists, nor its methods or headers)."""
    preflight = browser_client.options(
        "/v1/members",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, x-evil",
        },
    )
    assert preflight.status_code == 403
    assert preflight.headers["content-type"] == "application/problem+json"
    body = preflight.json()
    assert body["type"] == problems.CORS_ORIGIN_REFUSED.uri  # /cors-origin-refused
    assert body["errors"] == [{"field": "Origin", "message": "not an origin this API allows"}]
    assert not {h for h in preflight.headers if h.startswith("access-control-")}
    assert FRONT_END not in preflight.text and "localhost" not in preflight.text
    assert "PATCH" not in preflight.text and "If-Match" not in preflight.text
    assert preflight.headers["vary"] == "Origin"
    assert preflight.headers["x-request-id"]
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


def test_a_preflight_for_a_method_no_route_answers_is_refused_naming_it(browser_client: TestClient[Litestar]) -> None:
    preflight = browser_client.options(
        "/v1/members", headers={"Origin": FRONT_END, "Access-Control-Request-Method": "PUT"}
    )
    assert (preflight.status_code, preflight.headers["content-type"]) == (403, "application/problem+json")
    body = preflight.json()
    assert body["type"] == problems.CORS_METHOD_REFUSED.uri  # /cors-method-refused
    assert body["errors"] == [{"field": "Access-Control-Request-Method", "message": "`PUT` is not routed"}]
    assert "access-control-allow-origin" not in preflight.headers


def test_a_preflight_for_a_header_the_api_does_not_read_is_refused_naming_each(
    browser_client: TestClient[Litestar],
) -> None:
    preflight = browser_client.options(
        "/v1/members",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, X-Debug, content-type, x-a(b)",
        },
    )
    assert (preflight.status_code, preflight.headers["content-type"]) == (403, "application/problem+json")
    body = preflight.json()
    assert body["type"] == problems.CORS_HEADERS_REFUSED.uri  # /cors-headers-refused
    assert [e["message"] for e in body["errors"]] == ["`X-Debug` is not allowed", "this name is not allowed"]
    assert {e["field"] for e in body["errors"]} == {"Access-Control-Request-Headers"}


def test_an_options_request_that_is_not_a_preflight_reaches_the_route(browser_client: TestClient[Litestar]) -> None:
    """An ``Origin`` alone does not make a preflight (the Fetch standard's also has
    ``Access-Control-Request-Method``): the route answers with its ``Allow``, and the grant."""
    plain = browser_client.options("/v1/members", headers={"Origin": FRONT_END})
    assert plain.status_code == 204
    assert plain.headers["allow"] == "GET, OPTIONS, POST"
    assert plain.headers["access-control-allow-origin"] == FRONT_END


def test_errors_of_the_router_carry_the_grant_so_a_page_can_read_them(
    browser_client: TestClient[Litestar], org: Org
) -> None:
    answer = browser_client.get("/v1/no-such-thing", headers={"Origin": FRONT_END})
    assert answer.status_code == 404
    assert answer.headers["access-control-allow-origin"] == FRONT_END
    assert answer.json()["type"] == problems.NO_ROUTE.uri
