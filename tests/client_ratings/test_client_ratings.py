"""The client's voice: ratings pushed by a clinic system, and one-time form links a client rates through."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
import time_machine
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.clock import utcnow
from supervise.config import ConfigError, Settings
from supervise.db import alembic_config
from supervise.rubrics.registry import RubricError, load_registry
from tests.aggregates.test_series import review
from tests.audit.test_audit import events
from tests.conftest import SECRET, fresh_database
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, Team, complete, make_team
from tests.rubrics.test_api import _verify
from tests.support import Api, Org, Person, make_org
from tests.test_http import assert_problem

SRS = ("relationship", "goals_topics", "approach", "overall")
WAI_SR = tuple(f"item_{i:02d}" for i in range(1, 13))


def ehr(org: Org) -> Person:
    """A clinic system's service account, with a key scoped to what it does."""
    return org.member(
        "admin",
        kind="integration",
        name="EHR sync",
        scopes=["recordings:write", "client-ratings:write", "client-ratings:read"],
    )


def session(team: Team, number: int, day: str) -> str:
    body = recording_body(team.case_id, session_number=number, occurred_at=f"{day}T10:00:00Z")
    made = team.therapist.api.post("/v1/recordings", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def srs(recording_id: str, values: tuple[float, ...], day: str, **extra: Any) -> dict[str, Any]:
    return {
        "recording_id": recording_id,
        "rubric_key": "srs",
        "responses": {"items": dict(zip(SRS, values, strict=True))},
        "completed_at": f"{day}T10:55:00+00:00",
        **extra,
    }


def test_a_clinic_system_pushes_srs_ratings_for_ten_sessions(org: Org) -> None:
    """Ten sessions of a case, each with the client's SRS: stored as reviews with role client and no reviewer,
    scored (total, flags), idempotent by external_id, audited, and in the client series."""
    team = make_team(org)
    system = ehr(org)
    rated = [
        (9.5, 9.0, 9.2, 9.6),
        (9.1, 8.7, 9.0, 9.3),
        (8.0, 8.5, 9.0, 8.8),  # total 34.3: below 36, and an item below 9
        (9.9, 9.8, 9.7, 9.9),
        (9.0, 9.0, 9.0, 9.0),  # total 36: not below 36
        (9.2, 9.4, 9.1, 9.5),
        (6.5, 7.0, 8.0, 7.5),  # total 29.0
        (9.6, 9.5, 9.4, 9.8),
        (9.8, 9.9, 9.7, 9.9),
        (10.0, 10.0, 10.0, 10.0),
    ]
    ids = []
    for number, values in enumerate(rated, start=1):
        day = f"2026-09-{number:02d}"
        recording_id = session(team, number, day)
        pushed = system.api.post("/v1/client-ratings", json=srs(recording_id, values, day, external_id=f"srs-{number}"))
        assert pushed.status_code == 201, pushed.text
        body = pushed.json()
        assert pushed.headers["location"] == f"/v1/reviews/{body['id']}"
        assert (body["source"], body["external_id"], body["rubric"]) == (
            "integration",
            f"srs-{number}",
            {"key": "srs", "version": "1.0"},
        )
        assert math.isclose(body["result"]["scores"]["total"], sum(values))
        codes = {flag["code"] for flag in body["result"]["flags"]}
        assert ("total_below_36" in codes) == (sum(values) < 36), (number, codes)
        assert ("item_below_9" in codes) == (min(values) < 9), (number, codes)
        ids.append(body["id"])
        # re-sync: the same form again is the same rating
        again = system.api.post("/v1/client-ratings", json=srs(recording_id, values, day, external_id=f"srs-{number}"))
        assert (again.status_code, again.json()["id"]) == (200, body["id"])
    # the same external_id with other answers is refused, naming the field
    recording_id = session(team, 11, "2026-09-11")
    clash = system.api.post("/v1/client-ratings", json=srs(recording_id, rated[0], "2026-09-11", external_id="srs-1"))
    assert "external_id" in str(assert_problem(clash, 409)["errors"])
    # a client rating is a review with role client and no reviewer, seen by the therapist
    seen = team.therapist.api.get(f"/v1/reviews/{ids[0]}").json()
    assert (seen["role"], seen["reviewer_id"], seen["state"]) == ("client", None, "submitted")
    assert seen["submitted_at"] == "2026-09-01T10:55:00Z"
    listed = team.therapist.api.get("/v1/reviews", params={"role": "client", "therapist": team.therapist.id}).json()
    assert sorted(r["id"] for r in listed["items"]) == sorted(ids)
    submitted = [e for e in events(org) if e["action"] == "client_rating.submit"]
    assert sorted(e["resource_id"] for e in submitted) == sorted(ids)
    assert all(e["actor_member_id"] == system.id for e in submitted)
    # the client series counts every one of them
    series = team.supervisor.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/series",
        params={"rubric": "srs", "role": "client", "bucket": "all"},
    ).json()
    total = next(m for m in series["measures"] if m["key"] == "total")["buckets"][0]
    totals = [sum(values) for values in rated]
    assert total["n"] == 10
    assert math.isclose(total["mean"], sum(totals) / 10)
    assert (total["min"], total["max"]) == (min(totals), max(totals))


def test_a_client_rating_that_does_not_fit_is_refused_and_changes_nothing(org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    recording_id = session(team, 1, "2026-09-01")
    values = (9.0, 9.0, 9.0, 9.0)
    cases = [
        ({"rubric_key": "alliance"}, 422, "role"),  # an observer rubric: clients do not rate with it
        ({"rubric_key": "nope"}, 422, "rubric_key"),
        ({"completed_at": "2026-09-01T09:59:00Z"}, 422, "completed_at"),  # before the session began
        ({"completed_at": (utcnow() + dt.timedelta(hours=1)).isoformat()}, 422, "completed_at"),
        ({"completed_at": "2026-09-01T10:55:00"}, 400, "completed_at"),  # no offset
        ({"responses": {"items": {"relationship": 9.0}}}, 422, "responses.items.goals_topics"),
        (
            {"responses": {"items": {**dict.fromkeys(SRS, 9.0), "relationship": 11}}},
            422,
            "responses.items.relationship",
        ),
        ({"recording_id": str(uuid.uuid4())}, 422, "recording_id"),
    ]
    for change, status, field in cases:
        refused = assert_problem(
            system.api.post("/v1/client-ratings", json={**srs(recording_id, values, "2026-09-01"), **change}), status
        )
        assert field in str(refused.get("errors", refused)), (change, refused)
    # only admins and integrations with the scope push client ratings
    assert_problem(team.therapist.api.post("/v1/client-ratings", json=srs(recording_id, values, "2026-09-01")), 403)
    unscoped = org.member("admin", kind="integration", name="Other", scopes=["recordings:write"])
    assert_problem(unscoped.api.post("/v1/client-ratings", json=srs(recording_id, values, "2026-09-01")), 403)
    assert team.therapist.api.get("/v1/reviews", params={"role": "client"}).json()["items"] == []
    # one client rating of a session per rubric
    assert system.api.post("/v1/client-ratings", json=srs(recording_id, values, "2026-09-01")).status_code == 201
    assert_problem(system.api.post("/v1/client-ratings", json=srs(recording_id, values, "2026-09-01")), 409)


def ask(person: Person, recording_id: str, rubric: str = "wai-sr", **extra: Any) -> dict[str, Any]:
    made = person.api.post("/v1/client-forms", json={"recording_id": recording_id, "rubric_key": rubric, **extra})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_client_rates_through_a_one_time_link(org: Org) -> None:
    """The therapist asks for a WAI-SR; the client's front end reads the form without a key (the rubric, the
    clinic's name, the session's date, nothing else), submits it once, and the link is used up."""
    team = make_team(org)
    recording_id = session(team, 4, "2026-10-06")
    issued = ask(team.therapist, recording_id)
    token = issued["token"]
    assert token.startswith("cf_") and len(token) >= 43 and issued["url"] == f"/v1/forms/{token}"
    assert (issued["state"], issued["rating_id"], issued["rubric"]["key"]) == ("open", None, "wai-sr")
    held = team.therapist.api.get(f"/v1/client-forms/{issued['id']}").json()
    assert "token" not in held and held["state"] == "open"
    client = Api(org.client, None)
    form = client.get(issued["url"])
    assert form.status_code == 200, form.text
    view = form.json()
    assert (view["clinic"], view["session_date"], view["rubric"]["key"]) == ("Test clinic", "2026-10-06", "wai-sr")
    assert set(view["responses_schema"]["properties"]["items"]["required"]) == set(WAI_SR)
    for secret in (team.therapist.email, "C-2024-0173", team.therapist.id, recording_id):
        assert secret not in form.text
    # a form that does not fit is refused, naming the item, and the link stays open
    refused = assert_problem(client.post(issued["url"], json={"responses": {"items": {"item_01": 9}}}), 422)
    assert "responses.items.item_01" in str(refused["errors"])
    answers = {key: 1 + i % 5 for i, key in enumerate(WAI_SR)}
    submitted = client.post(issued["url"], json={"responses": {"items": answers}})
    assert submitted.status_code == 200, submitted.text
    assert_problem(client.post(issued["url"], json={"responses": {"items": answers}}), 409)
    assert_problem(client.get(issued["url"]), 404)
    used = team.therapist.api.get(f"/v1/client-forms/{issued['id']}").json()
    assert used["state"] == "used" and used["rating_id"] is not None
    rating = team.therapist.api.get(f"/v1/reviews/{used['rating_id']}").json()
    assert (rating["role"], rating["reviewer_id"], rating["responses"]["items"]) == ("client", None, answers)
    bond = [answers[k] for k in ("item_03", "item_05", "item_07", "item_09")]
    assert math.isclose(rating["result"]["scores"]["bond"], sum(bond) / len(bond))  # subscales are means
    [audited] = [e for e in events(org) if e["action"] == "client_rating.submit"]
    assert (audited["resource_id"], audited["actor_member_id"], audited["api_key_id"]) == (rating["id"], None, None)
    assert [e["action"] for e in events(org, resource_id=issued["id"])][-1:] == ["client_form.create"]


def test_unknown_expired_and_revoked_links_are_one_and_the_same_404(org: Org) -> None:
    team = make_team(org)
    client = Api(org.client, None)
    expiring = ask(team.therapist, session(team, 1, "2026-10-01"), expires_in_hours=1)
    revoked = ask(team.supervisor, session(team, 2, "2026-10-02"))
    assert team.supervisor.api.delete(f"/v1/client-forms/{revoked['id']}").status_code == 204
    assert team.supervisor.api.delete(f"/v1/client-forms/{revoked['id']}").status_code == 204  # again: no change
    assert team.therapist.api.get(f"/v1/client-forms/{revoked['id']}").json()["state"] == "revoked"
    unknown = "/v1/forms/cf_" + "A" * 43
    answers = {"responses": {"items": {key: 3 for key in WAI_SR}}}
    with time_machine.travel(utcnow() + dt.timedelta(hours=2), tick=True):
        for method, body in (("GET", None), ("POST", answers)):
            kwargs = {"json": body} if body else {}
            answers_ = [client.request(method, url, **kwargs) for url in (unknown, expiring["url"], revoked["url"])]
            assert {a.status_code for a in answers_} == {404}, [a.text for a in answers_]
            assert len({a.content for a in answers_}) == 1, [a.text for a in answers_]
        assert team.therapist.api.get(f"/v1/client-forms/{expiring['id']}").json()["state"] == "expired"
    assert team.therapist.api.get("/v1/reviews", params={"role": "client"}).json()["items"] == []
    # a used link cannot be revoked
    used = ask(team.therapist, session(team, 3, "2026-10-03"))
    assert client.post(used["url"], json=answers).status_code == 200
    assert_problem(team.therapist.api.delete(f"/v1/client-forms/{used['id']}"), 409)


def test_who_may_ask_for_a_client_rating(org: Org) -> None:
    team = make_team(org)
    recording_id = session(team, 1, "2026-10-01")
    for person in (team.therapist, team.supervisor, org.admin, ehr(org)):
        made = ask(person, recording_id)
        assert person.api.delete(f"/v1/client-forms/{made['id']}").status_code == 204
    assert_problem(
        team.peer.api.post("/v1/client-forms", json={"recording_id": recording_id, "rubric_key": "srs"}), 422
    )
    assert_problem(
        team.therapist.api.post("/v1/client-forms", json={"recording_id": recording_id, "rubric_key": "alliance"}), 422
    )
    # the links of others' sessions are not listed, nor found
    listed = team.bystander.api.get("/v1/client-forms").json()["items"]
    assert listed == []
    mine = team.therapist.api.get("/v1/client-forms", params={"recording_id": recording_id}).json()["items"]
    assert len(mine) == 4 and all(f["state"] == "revoked" for f in mine)
    assert_problem(team.bystander.api.get(f"/v1/client-forms/{mine[0]['id']}"), 404)
    # a session rated already gets no link
    assert (
        ehr(org).api.post("/v1/client-ratings", json=srs(recording_id, (9, 9, 9, 9), "2026-10-01")).status_code == 201
    )
    assert_problem(
        team.therapist.api.post("/v1/client-forms", json={"recording_id": recording_id, "rubric_key": "srs"}), 409
    )


def test_peers_see_client_ratings_only_where_the_organisation_allows(org: Org) -> None:
    """The therapist, their supervisors and admins see client ratings; a peer who submitted their own review of
    the session sees the other reviews, and the client's only once an admin allows it. A client rating never
    unblinds anyone."""
    team = make_team(org)
    recording_id = session(team, 1, "2026-10-01")
    request = team.request(team.supervisor, team.peer, "peer", recording_id=recording_id)
    rating = ehr(org).api.post("/v1/client-ratings", json=srs(recording_id, (9, 9, 9, 9), "2026-10-01")).json()
    supervisor_review = review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 5))
    # the peer owes a review: blind to everything, the client rating included
    assert team.peer.api.get(f"/v1/recordings/{recording_id}/reviews").json()["items"] == []
    complete(team.peer, team.start(team.peer, request), 4)
    seen = {r["id"] for r in team.peer.api.get(f"/v1/recordings/{recording_id}/reviews").json()["items"]}
    assert supervisor_review["id"] in seen and rating["id"] not in seen
    assert_problem(team.peer.api.get(f"/v1/reviews/{rating['id']}"), 404)
    for person in (team.therapist, team.supervisor, org.admin):
        assert person.api.get(f"/v1/reviews/{rating['id']}").status_code == 200
    assert_problem(team.bystander.api.get(f"/v1/reviews/{rating['id']}"), 404)
    # an admin lets peers see client ratings
    organisation = org.admin.api.get("/v1/organisation")
    assert organisation.json()["client_ratings_to_peers"] is False
    assert_problem(
        team.supervisor.api.patch(
            "/v1/organisation",
            json={"client_ratings_to_peers": True},
            headers={"If-Match": organisation.headers["etag"]},
        ),
        403,
    )
    assert_problem(org.admin.api.patch("/v1/organisation", json={"client_ratings_to_peers": True}), 428)
    changed = org.admin.api.patch(
        "/v1/organisation", json={"client_ratings_to_peers": True}, headers={"If-Match": organisation.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["client_ratings_to_peers"] is True and changed.headers["etag"] != organisation.headers["etag"]
    assert_problem(
        org.admin.api.patch("/v1/organisation", json={"name": "X"}, headers={"If-Match": organisation.headers["etag"]}),
        412,
    )
    assert team.peer.api.get(f"/v1/reviews/{rating['id']}").status_code == 200
    assert [e["action"] for e in events(org) if e["action"] == "organisation.update"] == ["organisation.update"]
    # a client rating is not feedback: not acknowledged, not amended, no reference
    assert_problem(team.therapist.api.post(f"/v1/reviews/{rating['id']}/acknowledge", json={"usefulness": 3}), 409)
    assert_problem(org.admin.api.post(f"/v1/reviews/{rating['id']}/amend", json={"reason": "x"}), 409)


def test_form_links_are_rate_limited_per_link(database_url: str, settings: Settings) -> None:
    limited = Settings(
        database_url=database_url,
        secret_key=settings.secret_key,
        rate_limit_per_address="1000/minute",
        rate_limit_per_form_token="3/minute",
    )
    with TestClient(create_app(limited)) as client:
        org = make_org(client, limited)
        team = make_team(org)
        first = ask(team.therapist, session(team, 1, "2026-10-01"))
        second = ask(team.therapist, session(team, 2, "2026-10-02"))
        anonymous = Api(client, None)
        assert [anonymous.get(first["url"]).status_code for _ in range(3)] == [200, 200, 200]
        refused = assert_problem(anonymous.get(first["url"]), 429)
        assert "form link" in refused["detail"]
        assert anonymous.get(first["url"]).headers["retry-after"].isdigit()
        assert anonymous.get(second["url"]).status_code == 200  # another link has its own limit


def test_a_form_lifetime_out_of_range_is_refused_at_start(database_url: str, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="SUPERVISE_CLIENT_FORM_HOURS must be from 1 to 720"):
        create_app(Settings(database_url=database_url, secret_key=settings.secret_key, client_form_hours=0))


def test_a_link_freezes_its_rubric_version_when_it_is_issued(backend: str, tmp_path: Path) -> None:
    """The client answers the form the link was issued for: a definition changed between the link and the
    submission does not pass unnoticed, because issuing the link snapshots the version (the server then refuses
    to start on the changed definition, as it does for a version a draft uses)."""
    from alembic import command

    for url in fresh_database(backend, tmp_path):
        command.upgrade(alembic_config(Settings(database_url=url)), "head")
        settings = Settings(database_url=url, secret_key=SECRET)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            team = make_team(make_org(client, settings))
            ask(team.therapist, session(team, 1, "2026-10-06"))
        changed = load_registry()
        rubric = changed.rubrics[("wai-sr", "1.0")]
        changed.rubrics[("wai-sr", "1.0")] = dataclasses.replace(rubric, title="WAI-SR, edited after the link")
        with pytest.raises(RubricError, match=r"wai-sr 1.0 \(plugin 'wai-sr'\)"):
            asyncio.run(_verify(settings, changed))
