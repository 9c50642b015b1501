"""Migrations: upgrade, downgrade and upgrade again on a fresh database, with no drift from the models."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from litestar.testing import TestClient
from sqlalchemy import text

from supervise.app import create_app
from supervise.audit import repository
from supervise.audit.chain import new_event
from supervise.audit.service import verify_chain
from supervise.cli import _create_org
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
