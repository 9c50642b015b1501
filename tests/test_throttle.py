"""Rate limits (``supervise.throttle``, issue 15): per API key, per organisation, per source address for requests
without a valid key; in the process here, in Redis across workers in ``tests/test_serve_redis.py``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.config import ConfigError, Settings
from tests.conftest import SECRET
from tests.support import Api, Org, make_org


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[TestClient[Litestar], Settings]]:
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        rate_limit_per_key="3/minute",
        rate_limit_per_organisation="5/minute",
        rate_limit_per_address="2/minute",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, settings


def _fields(response: httpx.Response) -> tuple[str, int, int, int, int]:
    policy = re.fullmatch(r'"(\w+)";q=(\d+);w=(\d+)', response.headers["RateLimit-Policy"])
    state = re.fullmatch(r'"(\w+)";r=(\d+);t=(\d+)', response.headers["RateLimit"])
    assert policy and state and policy[1] == state[1], response.headers
    return policy[1], int(policy[2]), int(policy[3]), int(state[2]), int(state[3])


def test_a_key_past_its_limit_gets_429_with_when_to_retry(
    limited: tuple[TestClient[Litestar], Settings],
) -> None:
    client, settings = limited
    org = make_org(client, settings)
    seen = [org.admin.api.get("/v1/me") for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [_fields(r)[:4] for r in seen[:3]] == [("key", 3, 60, left) for left in (2, 1, 0)]
    refused = seen[3]
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429 and problem["type"].endswith("/too-many-requests")
    assert "this API key" in problem["detail"]
    policy, quota, window, remaining, reset = _fields(refused)
    assert (policy, quota, window, remaining) == ("key", 3, 60, 0)
    assert 1 <= int(refused.headers["Retry-After"]) == reset <= 60


def test_a_refused_request_counts_and_is_refused_before_its_permission_is_checked(
    limited: tuple[TestClient[Litestar], Settings],
) -> None:
    client, settings = limited
    org = make_org(client, settings)
    # a key without audit:read, refused (403) three times: each refusal counts, the fourth is a 429
    reader = org.member("clinician")
    statuses = [reader.api.get("/v1/audit-events").status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_an_organisation_is_limited_across_its_keys(limited: tuple[TestClient[Litestar], Settings]) -> None:
    client, settings = limited
    org = make_org(client, settings)
    member = org.member("clinician")  # two of the admin's requests: the organisation is at 2 of 5
    assert org.admin.api.get("/v1/me").status_code == 200  # 3
    assert [member.api.get("/v1/me").status_code for _ in range(2)] == [200, 200]  # 5
    refused = member.api.get("/v1/me")  # the member's key is at 3 of 3, within its own limit
    assert refused.status_code == 429
    assert "this organisation" in refused.json()["detail"]
    assert _fields(refused)[:2] == ("organisation", 5)
    other = make_org(client, settings)  # another organisation is not affected
    assert other.admin.api.get("/v1/me").status_code == 200


def test_requests_without_a_valid_key_are_limited_by_address_and_a_valid_key_is_not(
    limited: tuple[TestClient[Litestar], Settings],
) -> None:
    client, settings = limited
    org = make_org(client, settings)
    guess = Api(client, "svk_0123456789abcdef0123456789abcdef_" + "x" * 43)
    first, second, third = (guess.get("/v1/me") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (401, 401, 429)
    assert _fields(first)[:4] == ("address", 2, 60, 1)
    assert "this address" in third.json()["detail"]
    assert Api(client, None).get("/healthz").status_code == 429  # public routes count against the address too
    assert org.admin.api.get("/v1/me").status_code == 200  # others' bad keys never lock out a valid one


def test_a_malformed_rate_is_refused_at_start_naming_the_setting(database_url: str) -> None:
    with pytest.raises(ConfigError, match="SUPERVISE_RATE_LIMIT_PER_KEY must be a rate"):
        create_app(Settings(database_url=database_url, secret_key=SECRET, rate_limit_per_key="lots"))
    with pytest.raises(ConfigError, match="SUPERVISE_REDIS_URL must be a redis://"):
        create_app(Settings(database_url=database_url, secret_key=SECRET, redis_url="http://127.0.0.1:6379"))


def test_every_operation_declares_its_429(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    shared = document["components"]["responses"]["TooManyRequests"]
    # a 429 says when to retry and which limit it met, beside the headers every answer carries
    assert set(shared["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy", "Cache-Control", "X-Request-ID"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                assert operation["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}, path


def test_with_redis_down_requests_are_served_unthrottled(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(
        database_url=database_url, secret_key=SECRET, rate_limit_per_key="1/minute", redis_url="redis://127.0.0.1:1/0"
    )
    logger = logging.getLogger("supervise.throttle")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        logger.addHandler(caplog.handler)  # after the application configured logging, which resets the root's
        try:
            org: Org = make_org(client, settings)
            assert [org.admin.api.get("/v1/me").status_code for _ in range(3)] == [200, 200, 200]
        finally:
            logger.removeHandler(caplog.handler)
    warned = [r for r in caplog.records if r.name == "supervise.throttle"]
    assert len(warned) == 1 and "rate limits not counted" in warned[0].getMessage()  # once, not per request
