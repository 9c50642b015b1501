"""``GET /metrics`` (issue 15): scraped as Prometheus scrapes it, in process and from two workers."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from supervise.app import create_app
from supervise.config import Settings
from tests.conftest import SECRET
from tests.support import Api, make_org
from tests.test_serve import SUPERVISE, _statuses, environment, new_org, redis_url, serving, workers_serving


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_of(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], path: str, status: int) -> float:
    return sum(
        value
        for (name, labels), value in scraped.items()
        if name == "supervise_requests_total" and ("path", path) in labels and ("status_code", str(status)) in labels
    )


def scrape(client: TestClient[Litestar]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def test_requests_are_counted_by_route_template_and_status(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key=SECRET, rate_limit_per_key="5/minute")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        org = make_org(client, settings)
        member = org.member("clinician")  # two of the admin's five requests
        before = scrape(client)
        assert org.admin.api.get(f"/v1/members/{member.id}").status_code == 200  # an audited read
        assert org.admin.api.get(f"/v1/members/{uuid.uuid4()}").status_code == 404  # raised by the handler
        assert Api(client, "svk_bad").get("/v1/me").status_code == 401  # refused by the authentication
        assert org.admin.api.get("/v1/me").status_code == 200
        assert org.admin.api.get("/v1/me").status_code == 429  # the admin's sixth request
        after = scrape(client)
    template = "/v1/members/{member_id}"
    assert requests_of(after, template, 200) - requests_of(before, template, 200) == 1
    assert requests_of(after, template, 404) - requests_of(before, template, 404) == 1
    for status in (200, 401, 429):
        assert requests_of(after, "/v1/me", status) - requests_of(before, "/v1/me", status) == 1, status
    assert not any(str(member.id) in dict(labels).get("path", "") for _, labels in after)  # templates, never ids
    key = ("supervise_rate_limited_total", frozenset({("policy", "key")}))
    assert after[key] - before.get(key, 0) == 1
    groups = ("supervise_audit_read_group_size_count", frozenset())
    assert after[groups] - before[groups] >= 1
    assert ("supervise_db_connections_in_use", frozenset()) in after
    durations = [
        name
        for name, labels in after
        if name == "supervise_request_duration_seconds_bucket" and ("path", "/v1/me") in labels
    ]
    assert durations


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_two_workers_metrics_are_summed(database_url: str, tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"a previous run's")  # emptied at start, as prometheus-client requires
    env = environment(database_url, SUPERVISE_REDIS_URL=redis_url(), PROMETHEUS_MULTIPROC_DIR=str(shared))
    key = new_org(env)
    with serving(env, SUPERVISE, "serve", "--workers", "2") as port:
        writers = workers_serving(port, shared)
        assert len(writers) == 2 and "1" not in writers  # both workers count, nothing is left of the previous run
        assert _statuses(port, key, 40).count(200) == 40
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            scraped = samples(response.read().decode())
    # every request, whichever worker served it, in the one scrape that one worker answered
    assert requests_of(scraped, "/v1/me", 200) == 40
