"""``supervise rubrics release KEY VERSION``: a version only drafts use loses its drafts and its snapshot, in
every organisation, audited; anything else that uses it refuses the release and nothing changes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec.structs
import pytest
from alembic import command
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from supervise.app import create_app
from supervise.cli import main
from supervise.config import Settings
from supervise.db import Database, alembic_config
from supervise.reviews.tables import Annotation
from supervise.rubrics.registry import RubricError, load_registry
from supervise.rubrics.service import ensure_snapshot
from supervise.rubrics.tables import RubricSnapshot
from tests.audit.test_audit import events
from tests.client_ratings.test_client_ratings import ask, ehr, session, srs
from tests.conftest import SECRET, fresh_database
from tests.reviews.support import Team, complete, make_team
from tests.support import Api, Org, make_org


@dataclasses.dataclass
class Deployment:
    url: str
    settings: Settings
    client: TestClient[Litestar]

    def org(self, name: str) -> Org:
        return make_org(self.client, self.settings, name)

    def cli(self, *args: str, prompt: str | None = None) -> Result:
        env = {"SUPERVISE_DATABASE_URL": self.url, "SUPERVISE_SECRET_KEY": SECRET}
        return CliRunner().invoke(main, list(args), env=env, input=prompt)

    def snapshots(self) -> set[tuple[str, str]]:
        return {(s.key, s.version) for s in asyncio.run(_query(self.url, select(RubricSnapshot)))}

    def annotations(self) -> int:
        return int(asyncio.run(_query(self.url, select(func.count()).select_from(Annotation)))[0])


async def _query(url: str, statement: Any) -> list[Any]:
    database = Database(Settings(database_url=url))
    try:
        async with database.transaction() as tx:
            return list((await tx.scalars(statement)).all())
    finally:
        await database.dispose()


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SECRET,
        rate_limit_per_key="1000000/minute",
        rate_limit_per_organisation="1000000/minute",
        rate_limit_per_address="1000000/minute",
    )


@contextmanager
def deployment(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    """A database of its own (a release reaches every organisation in it), and the server over it."""
    for url in fresh_database(backend, tmp_path):
        command.upgrade(alembic_config(Settings(database_url=url)), "head")
        settings = _settings(url)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield Deployment(url, settings, client)


def draft(reviewer: Any, team: Team, rubric: str = "alliance") -> dict[str, Any]:
    made = reviewer.api.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": rubric})
    assert made.status_code == 201, made.text
    return dict(made.json())


def snapshot(url: str, key: str, version: str, **changes: Any) -> None:
    """Freeze ``key``'s installed definition under ``version`` as it was with ``changes`` (another version of it,
    or its earlier definition), as a review of that version once did."""
    registry = load_registry()
    installed = registry.latest(key)
    assert installed is not None
    registry.rubrics[(key, version)] = dataclasses.replace(installed, version=version, **changes)
    registry.owners[(key, version)] = registry.owners[(installed.key, installed.version)]

    async def take() -> None:
        database = Database(Settings(database_url=url))
        try:
            async with database.transaction() as tx:
                await ensure_snapshot(tx, registry, registry.rubrics[(key, version)])
        finally:
            await database.dispose()

    asyncio.run(take())


def test_release_discards_the_drafts_of_every_organisation_and_the_snapshot(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        riverside, hillside, elsewhere = d.org("Riverside"), d.org("Hillside"), d.org("Elsewhere")
        team, other, third = make_team(riverside), make_team(hillside), make_team(elsewhere)
        drafts = [draft(team.supervisor, team), draft(team.therapist, team), draft(other.supervisor, other)]
        noted = team.supervisor.api.post(
            f"/v1/reviews/{drafts[0]['id']}/annotations", json={"start_ms": 1000, "kind": "note", "text": "rapport"}
        )
        assert noted.status_code == 201, noted.text
        kept = [draft(team.supervisor, team, "ctrs"), draft(third.supervisor, third, "ctrs")]  # another rubric
        snapshot(d.url, "alliance", "0.9")  # another version of the same rubric
        assert d.snapshots() == {("alliance", "1.1"), ("alliance", "0.9"), ("ctrs", "1.0")}

        released = d.cli("rubrics", "release", "alliance", "1.1", "--yes")
        assert released.exit_code == 0, released.output
        assert "2 draft reviews in Riverside" in released.output
        assert "1 draft review in Hillside" in released.output
        assert "released alliance 1.1: 3 drafts discarded in 2 organisations, and its snapshot" in released.output

        assert d.snapshots() == {("alliance", "0.9"), ("ctrs", "1.0")}
        for person, gone in ((team.supervisor, drafts[0]), (team.therapist, drafts[1]), (other.supervisor, drafts[2])):
            assert person.api.get(f"/v1/reviews/{gone['id']}").status_code == 404
        assert d.annotations() == 0
        assert team.supervisor.api.get(f"/v1/reviews/{kept[0]['id']}").status_code == 200
        assert third.supervisor.api.get(f"/v1/reviews/{kept[1]['id']}").status_code == 200
        # audited where drafts were discarded, as a discard through the API is; nowhere else
        for org, ids in ((riverside, {drafts[0]["id"], drafts[1]["id"]}), (hillside, {drafts[2]["id"]})):
            logged = events(org)
            assert {e["resource_id"] for e in logged if e["action"] == "review.discard"} == ids
            [note] = [e for e in logged if e["action"] == "rubric.version_released"]
            assert (note["actor_member_id"], note["resource_type"]) == (None, "rubric")
        assert not [e for e in events(elsewhere) if e["action"] in ("review.discard", "rubric.version_released")]
        verified = d.cli("audit", "verify")
        assert verified.exit_code == 0, verified.output
        assert "3 chains intact" in verified.output

        # the version is free again: the next draft freezes it anew
        draft(team.supervisor, team)
        assert ("alliance", "1.1") in d.snapshots()


def test_a_submitted_review_refuses_the_release(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        complete(team.supervisor, draft(team.supervisor, team))
        waiting = draft(team.therapist, team)

        refused = d.cli("rubrics", "release", "alliance", "1.1", "--yes")
        assert refused.exit_code == 1
        assert "rubric alliance 1.1 is used by more than drafts: 1 submitted review (or amendment)" in refused.output
        assert "stored scores" in refused.output and "Nothing was changed" in refused.output
        assert team.therapist.api.get(f"/v1/reviews/{waiting['id']}").status_code == 200
        assert ("alliance", "1.1") in d.snapshots()


def test_a_client_rating_refuses_the_release(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        org = d.org("Riverside")
        team = make_team(org)
        recording_id = session(team, 1, "2026-09-01")
        pushed = ehr(org).api.post("/v1/client-ratings", json=srs(recording_id, (9.0, 9.0, 9.0, 9.0), "2026-09-01"))
        assert pushed.status_code == 201, pushed.text

        refused = d.cli("rubrics", "release", "srs", "1.0", "--yes")
        assert refused.exit_code == 1
        assert "1 client rating" in refused.output
        assert "submitted review" not in refused.output  # a client rating is counted as what it is
        assert ("srs", "1.0") in d.snapshots()


def test_an_open_request_refuses_the_release_and_a_cancelled_one_does_not(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        request = team.request(team.supervisor, team.peer, "peer")
        started = team.start(team.peer, request)

        refused = d.cli("rubrics", "release", "alliance", "1.1", "--yes")
        assert refused.exit_code == 1
        assert "1 review request open, in progress or done" in refused.output
        assert team.peer.api.get(f"/v1/reviews/{started['id']}").status_code == 200

        cancelled = team.supervisor.api.post(f"/v1/review-requests/{request['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        released = d.cli("rubrics", "release", "alliance", "1.1", "--yes")
        assert released.exit_code == 0, released.output
        assert ("alliance", "1.1") not in d.snapshots()
        # the cancelled assignment stays, as history
        kept = team.supervisor.api.get(f"/v1/review-requests/{request['id']}")
        assert (kept.status_code, kept.json()["state"]) == (200, "cancelled")


def test_a_pending_client_form_refuses_the_release_and_a_revoked_one_does_not(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        snapshot(d.url, "wai-sr", "1.0")
        form = ask(team.therapist, session(team, 1, "2026-10-01"))

        refused = d.cli("rubrics", "release", "wai-sr", "1.0", "--yes")
        assert refused.exit_code == 1
        assert "1 client form pending or used" in refused.output

        assert team.therapist.api.delete(f"/v1/client-forms/{form['id']}").status_code == 204
        released = d.cli("rubrics", "release", "wai-sr", "1.0", "--yes")
        assert released.exit_code == 0, released.output
        assert "no draft reviews" in released.output
        assert team.therapist.api.get(f"/v1/client-forms/{form['id']}").json()["state"] == "revoked"


def test_an_unfrozen_version_has_nothing_to_release(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        draft(team.supervisor, team)
        for key, version in (("alliance", "9.9"), ("nope", "1.0")):
            refused = d.cli("rubrics", "release", key, version, "--yes")
            assert refused.exit_code == 1
            assert f"no snapshot of rubric {key} {version}: nothing has frozen that version" in refused.output
            assert "(versions with snapshots: alliance 1.1)" in refused.output


def test_release_asks_first(backend: str, tmp_path: Path) -> None:
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        kept = draft(team.supervisor, team)

        declined = d.cli("rubrics", "release", "alliance", "1.1", prompt="n\n")
        assert declined.exit_code == 1
        assert "1 draft review in Riverside" in declined.output
        assert "Release alliance 1.1? [y/N]" in declined.output and "Aborted" in declined.output
        assert team.supervisor.api.get(f"/v1/reviews/{kept['id']}").status_code == 200
        assert ("alliance", "1.1") in d.snapshots()

        accepted = d.cli("rubrics", "release", "alliance", "1.1", prompt="y\n")
        assert accepted.exit_code == 0, accepted.output
        assert team.supervisor.api.get(f"/v1/reviews/{kept['id']}").status_code == 404


def test_after_a_release_the_server_starts_with_the_changed_definition(backend: str, tmp_path: Path) -> None:
    """The point of it: a plugin author changed a version while only drafts used it (here the snapshot keeps
    the definition from before the change), so the server refuses to start; released, it starts, and the next
    draft freezes the definition installed now."""
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        gone = draft(team.supervisor, team)
        installed = load_registry().rubrics[("alliance", "1.1")]
        first = installed.items[0]
        earlier = msgspec.structs.replace(first, label="Rapport (earlier wording)")
        asyncio.run(_forget_snapshot(d.url))
        snapshot(d.url, "alliance", "1.1", items=(earlier, *installed.items[1:]))

        checked = d.cli("rubrics", "check")
        assert checked.exit_code == 1
        assert f'items.{first.key}.label: "Rapport (earlier wording)" → "{first.label}"' in checked.output
        with pytest.raises(ExceptionGroup) as refused, TestClient(create_app(d.settings)):  # the startup refusal
            pass
        assert refused.group_contains(RubricError, match=r"alliance 1\.1 \(plugin 'alliance'\)")

        released = d.cli("rubrics", "release", "alliance", "1.1", "--yes")
        assert released.exit_code == 0, released.output
        assert d.cli("rubrics", "check").exit_code == 0
        with TestClient(create_app(d.settings), raise_server_exceptions=False) as client:
            supervisor = Api(client, team.supervisor.api.key)
            assert supervisor.get(f"/v1/reviews/{gone['id']}").status_code == 404
            made = supervisor.post("/v1/reviews", json={"recording_id": team.recording_id, "rubric_key": "alliance"})
            assert made.status_code == 201, made.text
        [frozen] = asyncio.run(_query(d.url, select(RubricSnapshot).where(RubricSnapshot.key == "alliance")))
        assert frozen.checksum == installed.checksum()
        assert d.cli("audit", "verify").exit_code == 0


async def _forget_snapshot(url: str) -> None:
    from sqlalchemy import delete

    database = Database(Settings(database_url=url))
    try:
        async with database.transaction() as tx:
            await tx.execute(delete(RubricSnapshot))
    finally:
        await database.dispose()


def test_a_review_submitted_while_the_operator_reads_the_prompt_refuses_the_release(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the prompt showed is counted again when the release runs: a draft submitted meanwhile holds the
    version, and the other drafts stay too."""
    with deployment(backend, tmp_path) as d:
        team = make_team(d.org("Riverside"))
        submitted, waiting = draft(team.supervisor, team), draft(team.therapist, team)

        def submit_then_accept(*_: Any, **__: Any) -> bool:
            complete(team.supervisor, submitted)
            return True

        monkeypatch.setattr("click.confirm", submit_then_accept)
        refused = d.cli("rubrics", "release", "alliance", "1.1")
        assert refused.exit_code == 1
        assert "2 draft reviews in Riverside" in refused.output  # the prompt's count
        assert "1 submitted review (or amendment)" in refused.output and "Nothing was changed" in refused.output
        assert team.therapist.api.get(f"/v1/reviews/{waiting['id']}").status_code == 200
        assert ("alliance", "1.1") in d.snapshots()
        assert not [e for e in events(team.org) if e["action"] in ("review.discard", "rubric.version_released")]
