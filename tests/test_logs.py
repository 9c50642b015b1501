"""Structured logs (issue 15): JSON lines with request ids, and no health data in anything a server logs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from supervise.cli import _create_org
from supervise.config import Settings
from tests.conftest import SECRET
from tests.reviews.test_story import story
from tests.support import Api, Org, Person
from tests.test_serve import environment, serving

# what the story writes that is health data, or says something of a client or a session
HEALTH_DATA = (
    "s3://clinic/sessions/0042-05.mp4",
    "Thoughtful work with a hard session.",
    "Client goes quiet.",
    "Therapist names it.",
    "Thank you: I felt that silence too.",
    "Watch minutes 30 to 35.",
    "Trust was misread.",
)


@pytest.mark.slow
def test_a_whole_story_logs_json_lines_with_request_ids_and_no_health_data(database_url: str, tmp_path: Path) -> None:
    env = environment(database_url)
    settings = Settings(database_url=database_url, secret_key=SECRET)
    logged = tmp_path / "server.log"
    with serving(env, logs=logged) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        made = asyncio.run(_create_org(settings, "Log clinic", "Admin", "admin@log.example"))
        org = Org(made["org_id"], Person(made["member_id"], Api(http, made["api_key"]), "admin@log.example"), http)  # type: ignore[arg-type]
        story(org)
        # refused input that carries health data is not logged either
        bad = {"case_id": "not-a-uuid", "media": {"uri": HEALTH_DATA[0]}, "note": HEALTH_DATA[1]}
        assert org.admin.api.post("/v1/recordings", json=bad).status_code == 400
        traced = org.admin.api.get("/v1/me", headers={"X-Request-ID": "trace-me-0042"})
        assert traced.status_code == 200
        # a client form link is a credential: its token is not logged
        recording = org.admin.api.get("/v1/recordings").json()["items"][0]["id"]
        form = org.admin.api.post("/v1/client-forms", json={"recording_id": recording, "rubric_key": "srs"}).json()
        assert http.get(form["url"]).status_code == 200
    text = logged.read_text()
    for secret in (*HEALTH_DATA, form["token"]):
        assert secret not in text, secret
    assert "GET /v1/forms/{token} HTTP/1.1" in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert len(lines) > 50  # the access log of the story at least
    assert all({"time", "level", "logger", "message", "request_id", "pid"} <= line.keys() for line in lines)
    [access] = [line for line in lines if line["request_id"] == "trace-me-0042"]
    assert access["logger"] == "uvicorn.access" and "GET /v1/me" in access["message"]
