"""Migrations: upgrade, downgrade and upgrade again on a fresh database, with no drift from the models."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from litestar.testing import TestClient
from sqlalchemy import text

from supervise.app import create_app
from supervise.audit import repository
from supervise.audit.chain import new_event
from supervise.audit.service import verify_chain
from supervise.cli import _create_org, _verify_rollups
from supervise.clock import utcnow
from supervise.config import Settings
from supervise.db import Database, alembic_config
from tests.aggregates.test_series import review
from tests.conftest import SECRET, fresh_database
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, RUBRIC, complete, make_team
from tests.support import make_org


def test_upgrade_downgrade_upgrade_without_drift(backend: str, tmp_path: Path) -> None:
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url)
        cfg = alembic_config(settings)
        head = ScriptDirectory.from_config(cfg).get_current_head()

        command.upgrade(cfg, "head")
        command.check(cfg)  # raises when the models and the migrations disagree
        command.downgrade(cfg, "base")
        assert asyncio.run(_revision(settings)) is None
        command.upgrade(cfg, "head")
        command.check(cfg)
        assert asyncio.run(_revision(settings)) == head


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config(Settings()))
    assert len(script.get_heads()) == 1


async def _revision(settings: Settings) -> str | None:
    database = Database(settings)
    try:
        return await database.schema_revision()
    finally:
        await database.dispose()


def test_counts_are_not_downgraded_away_once_an_event_needs_one(backend: str, tmp_path: Path) -> None:
    """0015's downgrade drops ``audit_events.count``: refused once an event's hash covers a count (> 1), as
    that chain could then never verify again; without such an event it goes ahead."""
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url, secret_key=SECRET)
        cfg = alembic_config(settings)
        command.upgrade(cfg, "head")
        made = asyncio.run(_create_org(settings, "Clinic", "Admin", "admin@clinic.example"))
        asyncio.run(_coalesce(settings, uuid.UUID(made["org_id"])))
        with pytest.raises(RuntimeError, match="1 audit events stand for repeated refusals"):
            command.downgrade(cfg, "0014")
        assert asyncio.run(_revision(settings)) == "0015"
        command.upgrade(cfg, "head")  # the code verifies against the schema it knows (audit_events grew since)
        assert asyncio.run(_verified(settings, uuid.UUID(made["org_id"])))


async def _coalesce(settings: Settings, org: uuid.UUID) -> None:
    event = new_event(None, org, "createMember", "request", None, "denied", utcnow())
    event.count = 2
    database = Database(settings)
    try:
        async with database.engine.begin() as connection:
            await repository.append(connection, org, [event])
    finally:
        await database.dispose()


async def _verified(settings: Settings, org: uuid.UUID) -> bool:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await verify_chain(tx, org) is None
    finally:
        await database.dispose()


def test_references_left_on_an_amended_revision_follow_it(backend: str, tmp_path: Path) -> None:
    """0017 repairs what the code before it left: a reference still on the revision its review's amendment
    replaced, whose recording calibration then silently dropped."""
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url, secret_key=SECRET, rate_limit_per_address="1000000/minute")
        cfg = alembic_config(settings)
        command.upgrade(cfg, "head")
        with TestClient(create_app(settings)) as client:
            org = make_org(client, settings)
            team = make_team(org)
            training = team.therapist.api.post(
                "/v1/recordings", json=recording_body(team.case_id, consent={"scope": "supervision_and_training"})
            ).json()["id"]
            gold = review(team.supervisor, training, dict.fromkeys(ITEMS, 4))
            complete(
                team.peer,
                team.start(team.peer, team.request(team.supervisor, team.peer, "peer", recording_id=training)),
                5,
            )
            assert org.admin.api.post(f"/v1/reviews/{gold['id']}/reference").status_code == 201
            amended = team.supervisor.api.post(f"/v1/reviews/{gold['id']}/amend", json={"reason": "Too low."}).json()
            complete(team.supervisor, amended, 6)
        asyncio.run(_sql(settings, f"UPDATE reference_reviews SET review_id = '{_stored(backend, gold['id'])}'"))
        command.downgrade(cfg, "0016")
        command.upgrade(cfg, "head")
        with TestClient(create_app(settings)) as client:
            calibration = client.get(
                "/v1/aggregates/calibration",
                params={"rubric": RUBRIC},
                headers={"Authorization": f"Bearer {org.admin.api.key}"},
            ).json()
        [peer] = calibration["raters"]
        assert (peer["recordings"], peer["overall"]["mean_absolute_deviation"]) == (1, 1.0)


def _stored(backend: str, review_id: str) -> str:
    """A uuid as each database stores it (SQLite: 32 hex digits)."""
    return uuid.UUID(review_id).hex if backend == "sqlite" else review_id


async def _sql(settings: Settings, statement: str) -> None:
    database = Database(settings)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await database.dispose()


def test_3rs_session_items_stored_without_a_rupture_are_taken_out(backend: str, tmp_path: Path) -> None:
    """0022 repairs what scoring before ``not_applicable`` stored: a 3RS review without a rupture had the
    therapist's contribution and the resolution filed as values (here 5 and 1) counted in series, rollups and
    reliability. They go, the rollups follow, the stored result says so; a review with a rupture keeps them."""
    for url in fresh_database(backend, tmp_path):
        _repairs_3rs(backend, Settings(database_url=url, secret_key=SECRET, rate_limit_per_address="1000000/minute"))


def _repairs_3rs(backend: str, settings: Settings) -> None:
    from supervise.scores import repository as scores
    from tests.aggregates.test_comparisons import coding
    from tests.aggregates.test_series import session

    five = 300_000
    cfg = alembic_config(settings)
    command.upgrade(cfg, "head")
    with TestClient(create_app(settings)) as client:
        org = make_org(client, settings)
        team = make_team(org)
        made = {}
        for number, present in ((1, False), (2, True)):
            recording_id = session(team, number, f"2026-06-0{number}")
            started = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording_id, "rubric_key": "3rs"})
            review_url = f"/v1/reviews/{started.json()['id']}"
            body = {"responses": coding([(0, five, present), (five, 2 * five, False)])}
            assert team.supervisor.api.patch(review_url, json=body, headers={"If-Match": '"1"'}).status_code == 200
            made[present] = team.supervisor.api.post(f"{review_url}/submit").json()
    quiet = _stored(backend, made[False]["id"])
    columns = (
        "therapist_id, reviewer_id, recording_id, case_id, session_number, role, occurred_at, local_day, counted, "
        "rubric_key, rubric_version"
    )
    for measure, value in (("therapist_contribution", 5), ("resolution_extent", 1)):  # as the old code filed them
        statement = (
            f"INSERT INTO review_scores (org_id, review_id, measure_kind, measure, value, {columns}) "
            f"SELECT org_id, review_id, 'item', '{measure}', {value}, {columns} FROM review_scores "
            f"WHERE review_id = '{quiet}' AND measure = 'segments'"
        )
        asyncio.run(_sql(settings, statement))
    dropped = (
        "(result::jsonb - 'not_applicable')::json"
        if backend == "postgresql"
        else "json_remove(result, '$.not_applicable')"
    )
    asyncio.run(_sql(settings, f"UPDATE reviews SET result = {dropped} WHERE id = '{quiet}'"))

    async def old_rollups() -> None:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                await scores.replace_rollups(
                    tx, uuid.UUID(org.id), uuid.UUID(team.therapist.id), "3rs", made[False]["rubric"]["version"],
                    "supervisor", [("item", "therapist_contribution"), ("item", "resolution_extent")],
                    [dt.date(2026, 6, 1)],
                )  # fmt: skip
        finally:
            await database.dispose()

    asyncio.run(old_rollups())
    headers = {"Authorization": f"Bearer {team.supervisor.api.key}"}

    def contribution(client: TestClient[Any]) -> list[int]:
        series = client.get(
            f"/v1/aggregates/therapists/{team.therapist.id}/series",
            params={"rubric": "3rs", "bucket": "all", "role": "supervisor", "unit": "review"},
            headers=headers,
        ).json()
        return [b["n"] for m in series["measures"] if m["key"] == "therapist_contribution" for b in m["buckets"]]

    with TestClient(create_app(settings)) as client:
        assert contribution(client) == [2]  # the old state: the quiet session's 5 counted from the rollups
    command.downgrade(cfg, "0020")
    command.upgrade(cfg, "head")
    assert asyncio.run(_verify_rollups(settings))[1] == []
    with TestClient(create_app(settings)) as client:
        assert contribution(client) == [1]
        repaired = client.get(f"/v1/reviews/{made[False]['id']}", headers=headers).json()
        assert repaired["result"]["not_applicable"] == ["therapist_contribution", "resolution_extent"]
        kept = client.get(f"/v1/reviews/{made[True]['id']}", headers=headers).json()
        assert kept["result"]["not_applicable"] == []
