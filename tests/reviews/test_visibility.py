"""Who sees which review: own drafts, blind peer review, the therapist's feedback, supervisees, admins, consent."""

from __future__ import annotations

from tests.reviews.support import complete, make_team, save
from tests.support import Org, Person
from tests.test_http import assert_problem


def seen(person: Person, recording_id: str) -> set[str]:
    """Reviews ``person`` can list for the recording (and read one by one: the two always agree)."""
    listed = person.api.get(f"/v1/recordings/{recording_id}/reviews")
    if listed.status_code == 404:
        return set()
    ids = {r["id"] for r in listed.json()["items"]}
    everywhere = {r["id"] for r in person.api.get("/v1/reviews").json()["items"] if r["recording_id"] == recording_id}
    assert ids == everywhere
    return ids


def readable(person: Person, review_id: str) -> bool:
    status = person.api.get(f"/v1/reviews/{review_id}").status_code
    assert status in (200, 404)
    return status == 200


def test_peer_review_is_blind_until_ones_own_is_submitted(org: Org) -> None:
    team = make_team(org)
    second_peer = org.member("clinician")
    first = team.start(team.peer, team.request(team.supervisor, team.peer, "peer"))
    second = team.start(second_peer, team.request(team.supervisor, second_peer, "peer"))
    complete(team.peer, first, value=6)
    # the second peer still owes their review: the first is invisible to them, by id and in every list
    assert seen(second_peer, team.recording_id) == {second["id"]}
    assert not readable(second_peer, first["id"])
    complete(second_peer, second, value=3)
    assert seen(second_peer, team.recording_id) == {first["id"], second["id"]}
    assert seen(team.peer, team.recording_id) == {first["id"], second["id"]}


def test_blinding_starts_with_the_assignment(org: Org) -> None:
    team = make_team(org)
    supervisor_review = team.direct(team.supervisor)
    complete(team.supervisor, supervisor_review)
    # the therapist sees the supervisor's feedback, until they are asked to rate the session themselves
    assert readable(team.therapist, supervisor_review["id"])
    self_request = team.request(team.supervisor, team.therapist, "self")
    assert not readable(team.therapist, supervisor_review["id"])
    assert seen(team.therapist, team.recording_id) == set()
    own = team.start(team.therapist, self_request)
    assert seen(team.therapist, team.recording_id) == {own["id"]}
    complete(team.therapist, own, value=6)
    assert seen(team.therapist, team.recording_id) == {own["id"], supervisor_review["id"]}
    # an admin who is asked to review is blinded like anyone else
    admin_peer = org.member("admin", "clinician")
    team.request(team.supervisor, admin_peer, "peer")
    assert seen(admin_peer, team.recording_id) == set()
    assert seen(org.admin, team.recording_id) == {own["id"], supervisor_review["id"]}


def test_drafts_are_their_authors_and_admins(org: Org) -> None:
    team = make_team(org)
    draft = team.direct(team.supervisor)
    save(team.supervisor, draft, comment="Half done.")
    assert readable(team.supervisor, draft["id"])
    assert readable(org.admin, draft["id"])
    for person in (team.therapist, team.peer, team.bystander):
        assert not readable(person, draft["id"])
    second_supervisor = org.member("supervisor")
    link = {"supervisor_id": second_supervisor.id, "supervisee_id": team.therapist.id}
    assert org.admin.api.post("/v1/supervision-links", json=link).status_code == 201
    assert not readable(second_supervisor, draft["id"])
    complete(team.supervisor, draft)
    assert readable(second_supervisor, draft["id"])  # supervisors see their supervisees' reviews
    assert readable(team.therapist, draft["id"])
    for person in (team.peer, team.bystander):
        assert not readable(person, draft["id"])
        assert seen(person, team.recording_id) == set()


def test_consent_withdrawn_hides_reviews_from_reviewers_not_from_the_therapist(org: Org) -> None:
    team = make_team(org)
    request = team.request(team.supervisor, team.peer, "peer")
    peer_review = team.start(team.peer, request)
    complete(team.peer, peer_review)
    supervisor_review = team.direct(team.supervisor)
    complete(team.supervisor, supervisor_review)
    both = {peer_review["id"], supervisor_review["id"]}
    assert seen(team.peer, team.recording_id) == both
    withdrawn = team.therapist.api.patch(
        f"/v1/recordings/{team.recording_id}", json={"withdraw_consent": True}, headers={"If-Match": '"1"'}
    )
    assert withdrawn.status_code == 200
    for reviewer in (team.peer, team.supervisor):
        assert_problem(reviewer.api.get(f"/v1/recordings/{team.recording_id}"), 404)
        assert_problem(reviewer.api.get(f"/v1/recordings/{team.recording_id}/reviews"), 404)
        assert not readable(reviewer, peer_review["id"]) and not readable(reviewer, supervisor_review["id"])
        assert reviewer.api.get("/v1/reviews").json()["items"] == []
        assert_problem(reviewer.api.get(f"/v1/review-requests/{request['id']}"), 404)
    assert seen(team.therapist, team.recording_id) == both
    assert seen(org.admin, team.recording_id) == both


def test_reviews_filters(org: Org) -> None:
    team = make_team(org)
    supervisor_review = team.direct(team.supervisor)
    complete(team.supervisor, supervisor_review)
    draft = team.direct(team.therapist)

    def ids(person: Person, **params: str) -> list[str]:
        response = person.api.get("/v1/reviews", params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert ids(org.admin, reviewer=team.supervisor.id) == [supervisor_review["id"]]
    assert ids(team.therapist, reviewer="me") == [draft["id"]]
    assert ids(org.admin, state="draft") == [draft["id"]]
    assert ids(org.admin, role="supervisor") == [supervisor_review["id"]]
    assert ids(org.admin, rubric="alliance", therapist=team.therapist.id) == [supervisor_review["id"], draft["id"]]
    assert ids(org.admin, rubric="wai-o-s") == []
    assert_problem(org.admin.api.get("/v1/reviews", params={"state": "open"}), 400)
    assert_problem(org.admin.api.get("/v1/reviews", params={"reviewers": "me"}), 400)


def test_every_read_is_audited(org: Org) -> None:
    team = make_team(org)
    review = team.direct(team.supervisor)
    complete(team.supervisor, review)
    team.therapist.api.get(f"/v1/reviews/{review['id']}")
    events = org.admin.api.get("/v1/audit-events", params={"resource_id": review["id"]}).json()["items"]
    actions = [(e["action"], e["actor_member_id"]) for e in events]
    assert actions[0] == ("review.read", team.therapist.id)
    assert ("review.submit", team.supervisor.id) in actions
    assert ("review.create", team.supervisor.id) in actions
