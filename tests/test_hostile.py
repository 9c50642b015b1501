"""Hostile input against a live server (issue 15): deep JSON, invalid UTF-8, overflowing instants, huge heads,
wrong content types, repeated keys, numbers as strings and forged cursors. Each is a 4xx; none is a 5xx, and not
one row is written by any of them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import supervise.models  # noqa: F401  (every table, for the count)
from supervise.cli import _create_org
from supervise.config import Settings
from supervise.db import Base, Database
from tests.conftest import SECRET
from tests.recordings.test_api import recording_body
from tests.test_serve import _raw, environment, serving


def row_counts(settings: Settings) -> dict[str, int]:
    async def count() -> dict[str, int]:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                return {
                    name: int(await tx.scalar(select(func.count()).select_from(table)) or 0)
                    for name, table in Base.metadata.tables.items()
                }
        finally:
            await database.dispose()

    return asyncio.run(count())


@pytest.mark.slow
def test_hostile_input_is_refused_with_4xx_and_writes_nothing(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, secret_key=SECRET)
    env = environment(database_url)
    with serving(env) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        made = asyncio.run(_create_org(settings, "Hostile clinic", "Admin", "admin@hostile.example"))
        other = asyncio.run(_create_org(settings, "Other clinic", "Admin", "admin@other.example"))
        admin = {"Authorization": f"Bearer {made['api_key']}"}
        person = {"name": "T", "email": "t@hostile.example", "roles": ["clinician"]}
        therapist = http.post("/v1/members", headers=admin, json=person).json()["id"]
        key = http.post(f"/v1/members/{therapist}/api-keys", headers=admin, json={"name": "k"}).json()["secret"]
        auth = {"Authorization": f"Bearer {key}"}
        case = http.post("/v1/cases", headers=auth, json={"therapist_id": therapist, "external_ref": "H-1"})
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]
        for number in (1, 2):
            made_one = http.post("/v1/recordings", headers=auth, json=recording_body(case_id, session_number=number))
            assert made_one.status_code == 201, made_one.text
        cursor = http.get("/v1/recordings", headers=auth, params={"limit": 1}).json()["next_cursor"]
        theirs = {"Authorization": f"Bearer {other['api_key']}"}
        before = row_counts(settings)

        def post(raw: bytes, path: str = "/v1/members", content_type: str | None = "application/json") -> int:
            headers = {**admin, **({"Content-Type": content_type} if content_type else {})}
            return http.post(path, content=raw, headers=headers).status_code

        def listed(headers: dict[str, str], **params: str) -> int:
            return http.get("/v1/recordings", headers=headers, params=params).status_code

        member = json.dumps({"name": "Robin", "email": "robin@hostile.example"}).encode()
        recording = recording_body(case_id, session_number=9)

        def recorded(**changes: Any) -> int:
            raw = json.dumps({**recording, **changes}).encode()
            return http.post(
                "/v1/recordings", content=raw, headers={**auth, "Content-Type": "application/json"}
            ).status_code

        never = {"scope": "supervision", "expires_at": "9999-12-31T23:00:00-05:00"}
        answers: dict[str, int] = {
            "deep JSON": post(b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
            "invalid UTF-8": post(b'{"name": "Rob\xffin", "email": "r@hostile.example"}'),
            "repeated key": post(b'{"name": "R", "email": "r@h.example", "roles": ["clinician"], "roles": ["admin"]}'),
            "text/plain": post(member, content_type="text/plain"),
            "a form": post(b"name=R&email=r%40hostile.example", content_type="application/x-www-form-urlencoded"),
            "no content type": post(member, content_type=None),
            "a number as a string": recorded(duration_ms="3000000"),
            "instant before year 1": recorded(occurred_at="0001-01-01T01:00:00+05:00"),
            "consent expiring after 9999": recorded(consent=never),
            "query instant after 9999": listed(auth, occurred_from="9999-12-31T23:00:00-05:00"),
            "forged cursor": listed(auth, cursor="eyJmb3JnZWQiOnRydWV9"),
            "another clinic's cursor": listed(theirs, cursor=cursor),
            "a cursor with other filters": listed(auth, cursor=cursor, case_id=case_id),
        }
        huge = _raw(port, b"POST /v1/members HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n")
        answers["a 300 KB header"] = int(huge.split(b" ", 2)[1])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(500))
        head = b"POST /v1/members HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n" + many + b"\r\n"
        answers["500 headers"] = int(_raw(port, head, b"{}").split(b" ", 2)[1])
        after = row_counts(settings)
    refused: dict[str, Any] = {name: status for name, status in answers.items() if not 400 <= status < 500}
    assert refused == {}, refused
    assert after == before
