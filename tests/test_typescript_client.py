"""The TypeScript client (``clients/typescript``): its types are generated from the committed document and
current, it typechecks under ``tsc --strict``, and its walk takes a review from request to acknowledgement
against a real server, from Node and from a page on another origin in Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser import offline_page
from tests.rubrics.test_template_install import free_port
from tests.test_dashboard import static_site
from tests.test_serve import call, environment, new_org, serving

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "typescript"


def npm(*args: str, env: dict[str, str] | None = None, timeout: int = 300, hint: str = "") -> str:
    done = subprocess.run(
        ["npm", *args], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"npm {' '.join(args)}: {done.stdout}\n{done.stderr}{hint}"
    return done.stdout


@pytest.fixture(scope="module")
def installed() -> None:
    """``npm ci`` from the lock file, once for the module."""
    npm("ci")


@pytest.fixture(scope="module")
def built(installed: None) -> None:
    """The walk compiled to ES modules for the browser (``dist/``), with no Node types: it uses nothing Node has
    and a browser lacks."""
    npm("run", "build")


@pytest.mark.slow
@pytest.mark.usefixtures("installed")
def test_the_generated_types_are_current_and_typecheck() -> None:
    # openapi-typescript --check: fails when src/schema.d.ts is not what the document makes
    npm("run", "check", hint="\nthe document changed: cd clients/typescript && npm ci && npm run generate")
    npm("run", "typecheck")  # tsc --strict over the client, the walk and the dashboard's module


@pytest.mark.slow
@pytest.mark.usefixtures("installed")
def test_the_walk_takes_a_review_to_acknowledgement_and_reads_its_series(database_url: str) -> None:
    env = environment(database_url)
    key = new_org(env)
    with serving(env) as port:
        walked = npm(
            "run",
            "--silent",
            "walk",
            env={**os.environ, "SUPERVISE_URL": f"http://127.0.0.1:{port}", "SUPERVISE_ADMIN_KEY": key},
            timeout=120,
        )
        made = json.loads(walked.strip().splitlines()[-1])
        status, review = call(port, "GET", f"/v1/reviews/{made['review_id']}", key)
        assert status == 200, review
        status, series = call(
            port,
            "GET",
            f"/v1/aggregates/therapists/{made['therapist_id']}/series?rubric=alliance&role=supervisor",
            key,
        )
        assert status == 200, series
    assert made["states"] == ["draft", "submitted", "acknowledged"]
    assert review["state"] == "acknowledged"
    assert review["acknowledgement"]["usefulness"] == 4
    [total] = [m for m in series["measures"] if m["key"] == "total" and m["kind"] == "score"]
    assert made["series_total"] == total["buckets"]
    assert [(b["n"], b["mean"]) for b in total["buckets"]] == [(1, review["result"]["scores"]["total"])]


WALK = [
    ("POST", "/v1/members"),
    ("POST", "/v1/members/{id}/api-keys"),
    ("POST", "/v1/members"),
    ("POST", "/v1/members/{id}/api-keys"),
    ("POST", "/v1/supervision-links"),
    ("GET", "/v1/rubrics/alliance"),
    ("POST", "/v1/cases"),
    ("POST", "/v1/recordings"),
    ("POST", "/v1/review-requests"),
    ("POST", "/v1/review-requests"),  # the retry, replayed
    ("POST", "/v1/reviews"),
    ("GET", "/v1/reviews/{id}"),
    ("PATCH", "/v1/reviews/{id}"),
    ("POST", "/v1/reviews/{id}/annotations"),
    ("POST", "/v1/reviews/{id}/submit"),
    ("POST", "/v1/reviews/{id}/acknowledge"),
    ("GET", "/v1/aggregates/therapists/{id}/series?rubric=alliance&role=supervisor&bucket=month"),
]
"""Every call of the walk (src/walk.ts), in order, ids as ``{id}``."""
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
IN_TIME = """([api, key]) => Promise.race([
    window.walkFrom(api, key),
    new Promise((_, late) => setTimeout(() => late(new Error("the walk took over 60 s")), 60000)),
])"""


def answered(log: Path) -> list[tuple[str, str, int]]:
    """Method, path and status of every request in the server's access log."""
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and (match := _ACCESS.search(json.loads(line).get("message", ""))):
            found.append((match[1], match[2], int(match[3])))
    return found


@pytest.mark.slow
@pytest.mark.usefixtures("built")
def test_a_page_on_another_origin_makes_every_call_of_the_walk_in_chromium(tmp_path: Path) -> None:
    page_port = free_port()
    page_origin = f"http://localhost:{page_port}"
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'walk.db'}", SUPERVISE_CORS_ORIGINS=page_origin)
    key = new_org(env)
    log = tmp_path / "serve.log"
    with serving(env, logs=log) as api_port, static_site(CLIENT, page_port), offline_page() as (page, seen):
        api = f"http://127.0.0.1:{api_port}"
        page.goto(f"{page_origin}/browser/walk.html", timeout=30_000)
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        walked: dict[str, Any] = page.evaluate(IN_TIME, [api, key])
        errors_when_allowed = list(seen.errors)
        log_when_allowed = answered(log)
        # the same page from an origin the API does not list: its first call goes no further than the preflight
        page.goto(f"http://127.0.0.1:{page_port}/browser/walk.html", timeout=30_000)
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        refused: dict[str, Any] = page.evaluate(IN_TIME, [api, key])
        after = answered(log)[len(log_when_allowed) :]
        assert walked["error"] is None, (walked, log.read_text()[-3000:])
        status, review = call(api_port, "GET", f"/v1/reviews/{walked['walked']['review_id']}", key)
    calls = walked["calls"]
    assert [(c["method"], _ID.sub("{id}", c["path"])) for c in calls] == WALK
    assert all(c["status"] in (200, 201) for c in calls), calls
    # the headers the walk needs are readable from the page, as CORS exposes them
    assert all(c["request_id"] for c in calls)
    [first, retried] = [c for c in calls if c["path"] == "/v1/review-requests"]
    assert (first["replayed"], retried["replayed"]) == (None, "true")
    [started] = [c for c in calls if c["path"] == "/v1/reviews"]
    assert started["location"] and started["location"].endswith(walked["walked"]["review_id"])
    assert all(c["etag"] for c in calls if c["method"] == "PATCH" or c["path"].endswith("/submit"))
    assert (status, review["state"]) == (200, "acknowledged")
    assert walked["walked"]["states"] == ["draft", "submitted", "acknowledged"]
    # Chromium sent a real preflight for every URL the page called (each one carries Authorization), which the
    # server granted; none was answered by the test's machinery
    granted = {path for method, path, code in log_when_allowed if method == "OPTIONS" and code == 204}
    assert granted == {c["path"] for c in calls}
    assert errors_when_allowed == []
    # from the other origin: the preflight is refused by the server, the call itself never sent
    assert refused["calls"] == [] and refused["walked"] is None
    assert "Failed to fetch" in refused["error"]
    assert any("CORS policy" in e for e in seen.errors)
    assert ("OPTIONS", "/v1/members", 403) in after
    assert [a for a in after if a[0] != "OPTIONS"] == []
    assert seen.refused == [], "the page asked for something outside the machine"
