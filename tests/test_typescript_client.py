"""The TypeScript client (``clients/typescript``): its types are generated from the committed document and
current, it typechecks under ``tsc --strict``, and its walk takes a review from request to acknowledgement
against a real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

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
