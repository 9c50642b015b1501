"""/v1/rubrics and /v1/plugins, snapshots of used definitions, and refusing changed ones."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math

import pytest
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.config import Settings
from supervise.db import Database
from supervise.rubrics import Responses, Result, Rubric
from supervise.rubrics.registry import Registry, RubricError, load_registry
from supervise.rubrics.service import ensure_snapshot, verify_snapshots
from tests.rubrics.test_registry import FIRST_PARTY
from tests.support import Api, Org
from tests.test_http import assert_problem


def test_lists_every_installed_rubric_with_its_schema(org: Org) -> None:
    rubrics = org.admin.api.get("/v1/rubrics").json()
    latest = {key: max(v for k, v in FIRST_PARTY if k == key) for key, _ in FIRST_PARTY}
    assert {(r["key"], r["version"]) for r in rubrics} >= set(latest.items())
    alliance = next(r for r in rubrics if r["key"] == "alliance")
    assert alliance["plugin"] == "alliance"
    assert alliance["installed"] is True
    assert len(alliance["checksum"]) == 64
    assert [i["key"] for i in alliance["items"]][:2] == ["rapport", "trust"]
    assert alliance["items"][0]["scale"] == {
        "kind": "ordinal",
        "min": 1.0,
        "max": 7.0,
        "step": 1.0,
        "start": 4.0,
        "anchors": alliance["items"][0]["scale"]["anchors"],
    }
    schema = alliance["responses_schema"]["properties"]["items"]
    assert len(schema["required"]) == 8
    assert {t["source"] for t in alliance["thresholds"]}  # every threshold names its source
    three_rs = next(r for r in rubrics if r["key"] == "3rs")
    assert three_rs["unit"] == "segment"
    assert "segments" in three_rs["responses_schema"]["required"]


def test_get_latest_and_a_version(org: Org) -> None:
    latest = org.admin.api.get("/v1/rubrics/miti").json()
    assert latest["version"] == "4.2.1"
    assert latest["versions"] == ["4.2.1"]
    assert org.admin.api.get("/v1/rubrics/miti/versions/4.2.1").json() == latest
    assert_problem(org.admin.api.get("/v1/rubrics/nope"), 404)
    assert_problem(org.admin.api.get("/v1/rubrics/miti/versions/9"), 404)
    assert_problem(org.admin.api.get("/v1/rubrics/Bad Key!"), 400)


def test_plugins_are_listed_with_distribution_and_hooks(org: Org) -> None:
    plugins = {p["name"]: p for p in org.admin.api.get("/v1/plugins").json()}
    assert plugins["ctrs"]["distribution"] == "supervise-ctrs"
    assert plugins["ctrs"]["hooks"] == ["supervise_rubrics"]
    assert {(r["key"], r["version"]) for r in plugins["ctrs"]["rubrics"]} == {("ctrs", "1.0"), ("cts-r", "1.0")}


def test_rubrics_need_an_api_key(anonymous: Api) -> None:
    assert_problem(anonymous.get("/v1/rubrics"), 401)


async def _snapshot(settings: Settings, registry: Registry, key: str) -> None:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            rubric = registry.latest(key)
            assert rubric is not None
            await ensure_snapshot(tx, registry, rubric)
            await ensure_snapshot(tx, registry, rubric)  # idempotent
    finally:
        await database.dispose()


async def _verify(settings: Settings, registry: Registry) -> None:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            await verify_snapshots(tx, registry)
    finally:
        await database.dispose()


def test_changed_definition_of_a_used_version_stops_the_server(settings: Settings) -> None:
    installed = load_registry()
    asyncio.run(_snapshot(settings, installed, "wai-sr"))
    asyncio.run(_verify(settings, installed))  # unchanged: fine

    changed = load_registry()
    rubric = changed.rubrics[("wai-sr", "1.0")]
    changed.rubrics[("wai-sr", "1.0")] = dataclasses.replace(rubric, title="WAI-SR, quietly edited")
    with pytest.raises(RubricError, match=r"wai-sr 1.0 \(plugin 'wai-sr'\)") as refused:
        asyncio.run(_verify(settings, changed))
    assert f'\n    title: "{rubric.title}" → "WAI-SR, quietly edited"\n' in str(refused.value)

    # and the app refuses to start on it
    app = create_app(settings)
    app.state.runtime.registry.rubrics[("wai-sr", "1.0")] = changed.rubrics[("wai-sr", "1.0")]
    with pytest.raises(BaseException) as failure, TestClient(app):
        pass
    raised = failure.value.exceptions if isinstance(failure.value, BaseExceptionGroup) else (failure.value,)
    assert any("wai-sr 1.0 (plugin 'wai-sr')" in str(exc) for exc in raised), raised


def test_a_used_rubric_stays_readable_after_its_plugin_is_removed(settings: Settings, org: Org) -> None:
    asyncio.run(_snapshot(settings, load_registry(), "srs"))
    app = create_app(
        Settings(database_url=settings.database_url, secret_key=settings.secret_key, plugins="supervise-alliance")
    )
    with TestClient(app) as client:
        api = Api(client, org.admin.api.key)
        assert [r["key"] for r in api.get("/v1/rubrics").json()] == ["alliance"]
        assert_problem(api.get("/v1/rubrics/srs"), 404)
        served = api.get("/v1/rubrics/srs/versions/1.0").json()
        assert served["installed"] is False
        assert served["plugin"] is None
        assert served["title"] == "Session Rating Scale (SRS)"
        assert served["responses_schema"]["properties"]["items"]["required"] == [
            "relationship",
            "goals_topics",
            "approach",
            "overall",
        ]


ALLIANCE_KEYS = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]


def test_scoring_previews_results_without_storing(org: Org) -> None:
    before = org.admin.api.get("/v1/audit-events").json()["items"]
    items = dict.fromkeys(ALLIANCE_KEYS, 4) | {"trust": 2, "rapport": 6}
    result = org.admin.api.post("/v1/rubrics/alliance/versions/1.0/score", json={"items": items}).json()
    assert result["scores"]["total"] == 4.0
    assert [f["code"] for f in result["flags"]] == ["item_strained"]
    after = org.admin.api.get("/v1/audit-events").json()["items"]
    assert [e["action"] for e in after if e not in before] == ["audit_event.list"]  # nothing else written


def test_scoring_names_each_bad_item(org: Org) -> None:
    url = "/v1/rubrics/alliance/versions/1.0/score"
    problem = assert_problem(org.admin.api.post(url, json={"items": {"rapport": 9, "charm": 1}}), 422)
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert fields["items.rapport"] == "expected a value from 1 to 7"
    assert fields["items.charm"] == "alliance 1.0 has no item 'charm'"
    assert "items.trust" in fields  # missing, and this is not a partial preview
    partial = org.admin.api.post(url, params={"partial": "true"}, json={"items": {"rapport": 5}})
    assert partial.json()["scores"]["bond"] == 5.0


def test_a_failing_plugin_is_a_problem_naming_it(settings: Settings, org: Org) -> None:
    app = create_app(settings)
    registry = app.state.runtime.registry
    alliance = registry.rubrics[("alliance", "1.0")]

    def broken(rubric: object, responses: object) -> object:
        raise KeyError("oops")

    registry.rubrics[("alliance", "1.0")] = dataclasses.replace(alliance, score=broken)
    with TestClient(app) as client:
        api = Api(client, org.admin.api.key)
        response = api.post("/v1/rubrics/alliance/versions/1.0/score", json={"items": dict.fromkeys(ALLIANCE_KEYS, 4)})
        problem = assert_problem(response, 500)
        assert problem["title"] == "Rubric plugin failed" and problem["type"].endswith("/plugin-failure")
        assert "Plugin 'alliance' failed while scoring alliance 1.0: KeyError" in problem["detail"]


def test_a_plugin_returning_an_invalid_result_is_logged_at_error_naming_it(
    settings: Settings, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    registry = app.state.runtime.registry
    alliance = registry.rubrics[("alliance", "1.0")]

    def wrong(rubric: Rubric, responses: Responses) -> Result:
        return Result(scores={"total": math.nan})

    registry.rubrics[("alliance", "1.0")] = dataclasses.replace(alliance, score=wrong)
    plugin_log = logging.getLogger("supervise.rubrics")
    with TestClient(app) as client:  # starting the app configures logging: listen from then on
        plugin_log.addHandler(caplog.handler)
        try:
            api = Api(client, org.admin.api.key)
            body = {"items": dict.fromkeys(ALLIANCE_KEYS, 4)}
            response = api.post("/v1/rubrics/alliance/versions/1.0/score", json=body)
            assert "returned an invalid result" in assert_problem(response, 500)["detail"]
        finally:
            plugin_log.removeHandler(caplog.handler)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "supervise.rubrics"]
    assert [r.getMessage().split(":")[0] for r in logged] == [
        "plugin alliance returned an invalid result for alliance 1.0"
    ]
