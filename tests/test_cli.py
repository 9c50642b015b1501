"""The ``supervise`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient

from supervise.cli import ensure_schema, main
from supervise.config import Settings
from tests.conftest import SECRET, fresh_database
from tests.support import Api


def run(args: list[str], url: str) -> str:
    env = {"SUPERVISE_DATABASE_URL": url, "SUPERVISE_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_orgs_create_prints_a_working_key(database_url: str, client: TestClient[Litestar]) -> None:
    out = run(
        ["orgs", "create", "Riverside Clinic", "--admin-name", "Ada", "--admin-email", "ada@r.example", "--json"],
        database_url,
    )
    made = json.loads(out)
    assert set(made) == {"org_id", "member_id", "api_key"}
    me = Api(client, made["api_key"]).get("/v1/me").json()
    assert me["organisation"] == {"id": made["org_id"], "name": "Riverside Clinic"}
    assert me["member"]["id"] == made["member_id"]
    assert me["member"]["roles"] == ["admin"]
    created = Api(client, made["api_key"]).get("/v1/audit-events", params={"action": "api_key.create"}).json()
    assert [(e["resource_id"], e["actor_member_id"]) for e in created["items"]] == [(me["api_key"]["id"], None)]


def test_orgs_create_rejects_a_bad_email(database_url: str) -> None:
    env = {"SUPERVISE_DATABASE_URL": database_url, "SUPERVISE_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["orgs", "create", "X", "--admin-name", "A", "--admin-email", "nope"], env=env)
    assert result.exit_code == 2
    assert "--admin-email" in result.output


def test_openapi_writes_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    run(["openapi", "--output", str(target)], "sqlite:///unused.db")
    committed = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
    assert target.read_text() == committed.read_text()


def test_db_current_reports_head(database_url: str) -> None:
    out = run(["db", "current"], database_url)
    current, head = (line.split()[-1] for line in out.splitlines())
    assert current == head != "none"


def test_schema_on_start(backend: str, tmp_path: Path) -> None:
    """SQLite is brought to head on start; PostgreSQL refuses to start until someone upgrades it."""
    for url in fresh_database(backend, tmp_path):
        settings = Settings(database_url=url, secret_key=SECRET)
        if backend == "sqlite":
            ensure_schema(settings)
            current, head = (line.split()[-1] for line in run(["db", "current"], url).splitlines())
            assert current == head != "none"
        else:
            with pytest.raises(click.ClickException, match="supervise db upgrade"):
                ensure_schema(settings)
            run(["db", "upgrade"], url)
            ensure_schema(settings)
