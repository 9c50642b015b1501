"""/v1/fhir over HTTP: the same reviews, rules and audit as the JSON reads, as validated FHIR resources."""

from __future__ import annotations

import asyncio
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.config import Settings
from supervise.rubrics.registry import load_registry
from tests.audit.test_audit import events
from tests.client_ratings.test_client_ratings import ehr, srs
from tests.fhir.test_resources import (
    OBSERVATION_STATUSES,
    QUESTIONNAIRE_STATUSES,
    RESPONSE_STATUSES,
    valid,
)
from tests.reviews.support import Team, complete, full, make_team, save
from tests.rubrics.test_api import _snapshot
from tests.rubrics.test_registry import FIRST_PARTY
from tests.support import Api, Org
from tests.test_http import assert_problem

FHIR_JSON = "application/fhir+json"
SPAN = {"start": "2026-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}


def fhir(api: Api, path: str, /, **params: Any) -> dict[str, Any]:
    answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = answer.json()
    return body


def reviewed(team: Team, value: int = 5) -> dict[str, Any]:
    return complete(team.supervisor, team.direct(team.supervisor), value)


def test_a_submitted_review_is_a_questionnaire_response_with_its_scores(org: Org) -> None:
    team = make_team(org)
    review = reviewed(team, 6)
    response = fhir(team.supervisor.api, f"/v1/fhir/QuestionnaireResponse/{review['id']}")
    valid(QuestionnaireResponse, response, RESPONSE_STATUSES)
    version = review["rubric"]["version"]
    assert response["id"] == review["id"]
    assert response["questionnaire"] == f"https://supervise.dev/fhir/Questionnaire/alliance|{version}"
    assert response["status"] == "completed"
    assert response["subject"] == {
        "identifier": {"system": "https://supervise.dev/fhir/sid/case-id", "value": team.case_id}
    }
    assert response["encounter"]["identifier"]["value"] == team.recording_id
    assert response["author"]["identifier"]["value"] == team.supervisor.id
    answers = {item["linkId"]: item["answer"][0] for item in response["item"]}
    assert answers["rapport"]["valueCoding"]["code"] == "6"
    assert answers["score.total"] == {"valueDecimal": review["result"]["scores"]["total"]}
    text = str(response)
    assert "C-2024-0173" not in text and "Member" not in text  # no case reference, no names

    bundle = fhir(
        team.supervisor.api, "/v1/fhir/Observation", **{"derived-from": f"QuestionnaireResponse/{review['id']}"}
    )
    valid(Bundle, bundle)
    observations = [entry["resource"] for entry in bundle["entry"]]
    assert {o["code"]["coding"][0]["code"]: o["valueQuantity"]["value"] for o in observations} == review["result"][
        "scores"
    ]
    for observation in observations:
        valid(Observation, observation, OBSERVATION_STATUSES)
        assert observation["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{review['id']}"}]
        assert observation["subject"] == response["subject"]
        one = fhir(team.supervisor.api, f"/v1/fhir/Observation/{observation['id']}")
        assert one == observation
    assert_problem(team.supervisor.api.get(f"/v1/fhir/Observation/{review['id']}-nothing"), 404)
    reads = [e for e in events(org, resource_id=review["id"]) if e["action"] == "review.read"]
    assert len(reads) >= 1 + len(observations)  # audited as the JSON read is


def amended(team: Team) -> tuple[dict[str, Any], dict[str, Any]]:
    """A supervisor's review (value 5) and its submitted amendment (value 3)."""
    first = reviewed(team, 5)
    draft = team.supervisor.api.post(f"/v1/reviews/{first['id']}/amend", json={"reason": "Misread the scale."})
    assert draft.status_code == 201, draft.text
    return first, complete(team.supervisor, draft.json(), 3)


def test_an_amendment_is_amended_and_names_the_revision_it_corrects(org: Org) -> None:
    team = make_team(org)
    first, second = amended(team)
    response = fhir(team.supervisor.api, f"/v1/fhir/QuestionnaireResponse/{second['id']}")
    valid(QuestionnaireResponse, response, RESPONSE_STATUSES)
    assert response["status"] == "amended"
    amends = [e for e in response["extension"] if e["url"].endswith("/amends")]
    assert amends == [
        {
            "url": "https://supervise.dev/fhir/StructureDefinition/amends",
            "valueReference": {"reference": f"QuestionnaireResponse/{first['id']}"},
        }
    ]
    scores = fhir(
        team.supervisor.api, "/v1/fhir/Observation", **{"derived-from": f"QuestionnaireResponse/{second['id']}"}
    )
    assert {entry["resource"]["status"] for entry in scores["entry"]} == {"amended"}
    earlier = fhir(team.supervisor.api, f"/v1/fhir/QuestionnaireResponse/{first['id']}")
    assert earlier["status"] == "completed"  # the revision as it was; the export carries only the current one
    exported = fhir(team.supervisor.api, "/v1/fhir/$export", **SPAN)
    matched = [e["resource"]["id"] for e in exported["entry"] if e["search"]["mode"] == "match"]
    assert matched == [second["id"]]


def test_a_client_rating_has_no_author(org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    pushed = system.api.post("/v1/client-ratings", json=srs(team.recording_id, (9.5, 9.0, 8.5, 9.6), "2026-11-02"))
    assert pushed.status_code == 201, pushed.text
    review_id = pushed.json()["id"]
    response = fhir(team.therapist.api, f"/v1/fhir/QuestionnaireResponse/{review_id}")
    valid(QuestionnaireResponse, response, RESPONSE_STATUSES)
    assert "author" not in response
    assert response["questionnaire"] == "https://supervise.dev/fhir/Questionnaire/srs|1.0"
    assert {"url": "https://supervise.dev/fhir/StructureDefinition/rater-role", "valueCode": "client"} in response[
        "extension"
    ]
    answers = {item["linkId"]: item["answer"][0] for item in response["item"]}
    assert answers["relationship"] == {"valueDecimal": 9.5}
    assert answers["score.total"] == {"valueDecimal": 36.6}


def test_the_rules_of_the_json_reads_hold(org: Org, other_org: Org) -> None:
    team = make_team(org)
    review = reviewed(team)
    path = f"/v1/fhir/QuestionnaireResponse/{review['id']}"
    scores = {"derived-from": f"QuestionnaireResponse/{review['id']}"}
    outsider = other_org.admin.api
    stranger = assert_problem(outsider.get(path), 404)
    never = assert_problem(outsider.get("/v1/fhir/QuestionnaireResponse/0193a4b2-7c1d-7e4f-8a2b-3c4d5e6f7a8b"), 404)
    assert stranger == never  # another organisation's id is an id that never existed
    assert_problem(outsider.get("/v1/fhir/Observation", params=scores), 404)
    assert_problem(outsider.get(f"/v1/fhir/Observation/{review['id']}-total"), 404)
    assert not [e for e in fhir(outsider, "/v1/fhir/$export", **SPAN).get("entry", [])]
    assert_problem(team.bystander.api.get(path), 404)
    assert fhir(team.therapist.api, path)["id"] == review["id"]

    # consent withdrawn: the supervisor no longer sees it, the therapist does, as in GET /v1/reviews/{id}
    withdrawn = team.therapist.api.patch(
        f"/v1/recordings/{team.recording_id}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert_problem(team.supervisor.api.get(f"/v1/reviews/{review['id']}"), 404)
    assert_problem(team.supervisor.api.get(path), 404)
    assert_problem(team.supervisor.api.get("/v1/fhir/Observation", params=scores), 404)
    assert not fhir(team.supervisor.api, "/v1/fhir/$export", **SPAN).get("entry")
    assert fhir(team.therapist.api, path)["id"] == review["id"]


def test_a_draft_is_not_served(org: Org) -> None:
    team = make_team(org)
    draft = team.direct(team.supervisor)
    assert save(team.supervisor, draft, responses=full(4)).status_code == 200
    body = assert_problem(team.supervisor.api.get(f"/v1/fhir/QuestionnaireResponse/{draft['id']}"), 409)
    assert body["type"].endswith("/review-not-submitted")
    assert not fhir(org.admin.api, "/v1/fhir/$export", **SPAN).get("entry")  # admins see drafts; the export not


def test_the_export_pages_through_a_range_of_submissions(org: Org) -> None:
    team = make_team(org)
    peer_team = [team.request(team.supervisor, team.peer, "peer")]
    first = reviewed(team, 4)
    second = complete(team.peer, team.start(team.peer, peer_team[0]), 5)
    seen: list[str] = []
    questionnaires: set[str] = set()
    url: str | None = "/v1/fhir/$export"
    params: dict[str, Any] | None = {**SPAN, "_count": 1}
    pages = 0
    while url is not None:
        answer = org.admin.api.get(url, params=params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(FHIR_JSON)
        bundle = answer.json()
        valid(Bundle, bundle)
        assert bundle["type"] == "searchset"
        pages += 1
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            assert entry["fullUrl"].endswith(f"/v1/fhir/{resource['resourceType']}/{resource['id']}")
            if resource["resourceType"] == "QuestionnaireResponse":
                assert entry["search"]["mode"] == "match"
                valid(QuestionnaireResponse, resource, RESPONSE_STATUSES)
                seen.append(resource["id"])
            elif resource["resourceType"] == "Questionnaire":
                valid(Questionnaire, resource, QUESTIONNAIRE_STATUSES)
                questionnaires.add(resource["id"])
            else:
                valid(Observation, resource, OBSERVATION_STATUSES)
                assert resource["derivedFrom"][0]["reference"] == f"QuestionnaireResponse/{seen[-1]}"
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        params = None
    assert sorted(seen) == sorted([first["id"], second["id"]]) and pages >= 2
    assert questionnaires == {f"alliance-{first['rubric']['version']}"}

    # a range before the submissions holds none; an empty range is a 422 naming `end`
    before = fhir(org.admin.api, "/v1/fhir/$export", start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00Z")
    assert "entry" not in before
    empty = assert_problem(org.admin.api.get("/v1/fhir/$export", params={**SPAN, "end": SPAN["start"]}), 422)
    assert [e["field"] for e in empty["errors"]] == ["end"]
    assert_problem(org.admin.api.get("/v1/fhir/$export", params={"start": "yesterday", "end": SPAN["end"]}), 400)
    assert_problem(org.admin.api.get("/v1/fhir/$export", params={"start": SPAN["start"]}), 400)


def test_the_capability_statement_names_what_is_served(org: Org) -> None:
    statement = fhir(org.admin.api, "/v1/fhir/metadata")
    valid(CapabilityStatement, statement, {"active"})
    assert statement["fhirVersion"] == "4.0.1" and statement["format"] == ["application/fhir+json"]
    assert statement["implementation"]["url"].endswith("/v1/fhir")
    served = {r["type"] for r in statement["rest"][0]["resource"]}
    assert served == {"Questionnaire", "QuestionnaireResponse", "Observation"}


def test_every_installed_rubric_version_is_a_questionnaire(org: Org) -> None:
    bundle = fhir(org.member("clinician").api, "/v1/fhir/Questionnaire")
    valid(Bundle, bundle)
    served = {(e["resource"]["url"].rpartition("/")[2], e["resource"]["version"]) for e in bundle["entry"]}
    assert served >= set(FIRST_PARTY)
    for entry in bundle["entry"]:
        valid(Questionnaire, entry["resource"], QUESTIONNAIRE_STATUSES)
        assert entry["resource"]["status"] == "active"
    one = fhir(org.admin.api, "/v1/fhir/Questionnaire/wai-o-s-1.0")
    assert one == next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "wai-o-s-1.0")
    only = fhir(org.admin.api, "/v1/fhir/Questionnaire", url="https://supervise.dev/fhir/Questionnaire/srs")
    assert [e["resource"]["id"] for e in only["entry"]] == ["srs-1.0"]
    assert_problem(org.admin.api.get("/v1/fhir/Questionnaire/nothing-1.0"), 404)


def test_a_rubric_whose_plugin_was_uninstalled_still_exports_from_its_snapshot(settings: Settings, org: Org) -> None:
    team = make_team(org)
    system = ehr(org)
    pushed = system.api.post("/v1/client-ratings", json=srs(team.recording_id, (9.0, 9.0, 9.0, 9.0), "2026-11-02"))
    assert pushed.status_code == 201, pushed.text
    review_id = pushed.json()["id"]
    asyncio.run(_snapshot(settings, load_registry(), "srs"))  # taken already by the rating: idempotent
    only_alliance = Settings(
        database_url=settings.database_url, secret_key=settings.secret_key, plugins="supervise-alliance"
    )
    with TestClient(create_app(only_alliance)) as client:
        api = Api(client, org.admin.api.key)
        listed = fhir(api, "/v1/fhir/Questionnaire")
        assert {e["resource"]["url"].rpartition("/")[2] for e in listed["entry"]} == {"alliance"}
        questionnaire = fhir(api, "/v1/fhir/Questionnaire/srs-1.0")
        valid(Questionnaire, questionnaire, QUESTIONNAIRE_STATUSES)
        assert questionnaire["status"] == "retired"
        assert [i["linkId"] for i in questionnaire["item"]][:4] == [
            "relationship",
            "goals_topics",
            "approach",
            "overall",
        ]
        response = fhir(api, f"/v1/fhir/QuestionnaireResponse/{review_id}")
        valid(QuestionnaireResponse, response, RESPONSE_STATUSES)
        assert response["questionnaire"] == "https://supervise.dev/fhir/Questionnaire/srs|1.0"
        exported = fhir(api, "/v1/fhir/$export", **SPAN)
        valid(Bundle, exported)
        ids = {e["resource"]["id"] for e in exported["entry"]}
        assert review_id in ids and "srs-1.0" in ids
        included = next(e["resource"] for e in exported["entry"] if e["resource"]["id"] == "srs-1.0")
        assert included == questionnaire


def test_the_range_is_half_open_on_the_submission_time(org: Org) -> None:
    team = make_team(org)
    review = reviewed(team)
    at = review["submitted_at"]

    def matched(start: str, end: str) -> list[str]:
        bundle = fhir(org.admin.api, "/v1/fhir/$export", start=start, end=end)
        return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]

    assert matched(at, SPAN["end"]) == [review["id"]]  # from its submission on
    assert matched(SPAN["start"], at) == []  # up to, not including, its submission


def test_a_client_rating_is_exported_when_it_arrives_not_when_the_form_was_completed(org: Org) -> None:
    """A clinic system pushes forms after the fact (a nightly sync, a backfill): completed_at is in the past.
    An exporter reading consecutive ranges has read those days already, so the rating is in the range of its
    arrival, or no export would ever hold it."""
    team = make_team(org)
    pushed = ehr(org).api.post("/v1/client-ratings", json=srs(team.recording_id, (9.0, 8.0, 9.0, 9.0), "2026-11-02"))
    assert pushed.status_code == 201, pushed.text
    rating = org.admin.api.get(f"/v1/reviews/{pushed.json()['id']}").json()
    arrived = rating["created_at"]
    assert rating["submitted_at"].startswith("2026-11-02T10:55:00")  # when the client answered

    def matched(start: str, end: str) -> list[str]:
        bundle = fhir(org.admin.api, "/v1/fhir/$export", start=start, end=end)
        return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]

    assert matched(arrived, SPAN["end"]) == [rating["id"]]
    assert matched(SPAN["start"], arrived) == []  # the day it was completed has been exported already
    response = fhir(org.admin.api, f"/v1/fhir/QuestionnaireResponse/{rating['id']}")
    assert response["authored"].startswith("2026-11-02T10:55:00")  # still when the client answered
    observations = fhir(
        org.admin.api, "/v1/fhir/Observation", **{"derived-from": f"QuestionnaireResponse/{rating['id']}"}
    )
    assert {e["resource"]["issued"][:19] for e in observations["entry"]} == {arrived[:19]}  # made available then


def test_an_amendment_is_exported_when_it_is_submitted_not_when_its_draft_began(org: Org) -> None:
    _, second = amended(make_team(org))
    began, submitted = second["created_at"], second["submitted_at"]
    assert began < submitted

    def matched(start: str, end: str) -> list[str]:
        bundle = fhir(org.admin.api, "/v1/fhir/$export", start=start, end=end)
        return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]

    assert matched(submitted, SPAN["end"]) == [second["id"]]
    assert matched(began, submitted) == []
