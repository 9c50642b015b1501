"""Every ``{id}`` route answers 404 for another organisation's ids, byte-identical to an id that never existed."""

from __future__ import annotations

import re
import uuid

from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.recordings.test_api import recording_body
from tests.support import Org

# A valid body for each write, so that only the id decides the answer.
BODIES = {
    ("POST", "/v1/members/{member_id:uuid}/api-keys"): {"name": "probe"},
    ("PATCH", "/v1/members/{member_id:uuid}"): {"name": "probe"},
    ("PATCH", "/v1/recordings/{recording_id:uuid}"): {"withdraw_consent": True},
    ("POST", "/v1/review-requests/{request_id:uuid}/cancel"): None,
    ("PATCH", "/v1/reviews/{review_id:uuid}"): {"comment": "probe"},
    ("POST", "/v1/reviews/{review_id:uuid}/submit"): None,
    ("POST", "/v1/reviews/{review_id:uuid}/amend"): {"reason": "probe"},
    ("POST", "/v1/reviews/{review_id:uuid}/acknowledge"): {"usefulness": 3},
    ("POST", "/v1/reviews/{review_id:uuid}/annotations"): {"start_ms": 0, "kind": "note", "text": "probe"},
    ("POST", "/v1/reviews/{review_id:uuid}/reference"): None,
    ("PATCH", "/v1/identity-providers/{provider_id:uuid}"): {"name": "probe"},
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id:uuid}"): {"active": False},
    ("POST", "/v1/webhook-endpoints/{endpoint_id:uuid}/rotate-secret"): None,
    ("POST", "/v1/webhook-endpoints/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/redeliver"): None,
}


# Required query parameters, so that only the id decides the answer.
QUERIES = {
    ("GET", "/v1/aggregates/therapists/{therapist_id:uuid}/series"): {"rubric": "alliance"},
    ("GET", "/v1/aggregates/therapists/{therapist_id:uuid}/self-vs-observer"): {"rubric": "alliance"},
    ("GET", "/v1/aggregates/therapists/{therapist_id:uuid}/perspectives"): {
        "rubric": "alliance",
        "client_rubric": "srs",
    },
    ("GET", "/v1/aggregates/cases/{case_id:uuid}/trajectory"): {"rubric": "alliance"},
}


def id_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        # Tenant-owned resources are named by UUIDs; rubrics (by key and version) are installation-wide.
        if isinstance(route, HTTPRoute) and ":uuid}" in route.path:
            routes += [(method, route.path) for method in route.route_handler_map if method not in ("HEAD", "OPTIONS")]
    return routes


def test_foreign_ids_are_indistinguishable_from_unknown_ids(app: Litestar, org: Org, other_org: Org) -> None:
    # Resources of the other organisation, one of each kind a path can name.
    supervisor = other_org.member("supervisor")
    supervisee = other_org.member("clinician")
    link = other_org.admin.api.post(
        "/v1/supervision-links", json={"supervisor_id": supervisor.id, "supervisee_id": supervisee.id}
    ).json()
    key = other_org.admin.api.get(f"/v1/members/{supervisee.id}/api-keys").json()["items"][0]
    provider = other_org.admin.api.post(
        "/v1/identity-providers",
        json={
            "name": "Their provider",
            "issuer": "https://login.clinic-b.example",
            "audience": f"api://supervise/{uuid.uuid4().hex}",
            "jwks_uri": "https://login.clinic-b.example/keys",
        },
    )
    assert provider.status_code == 201, provider.text
    # a public address given literally, so registering needs no DNS; the recording below makes a delivery to it
    hook = other_org.admin.api.post(
        "/v1/webhook-endpoints", json={"url": "https://93.184.215.14/hooks", "event_types": ["recording.created"]}
    )
    assert hook.status_code == 201, hook.text
    case = other_org.admin.api.post("/v1/cases", json={"therapist_id": supervisee.id, "external_ref": "C-1"}).json()
    recording = other_org.admin.api.post("/v1/recordings", json=recording_body(case["id"])).json()
    request = supervisor.api.post(
        "/v1/review-requests",
        json={
            "recording_id": recording["id"],
            "reviewer_id": supervisor.id,
            "role": "supervisor",
            "rubric_key": "alliance",
        },
    ).json()
    review = supervisor.api.post("/v1/reviews", json={"request_id": request["id"]}).json()
    annotation = supervisor.api.post(
        f"/v1/reviews/{review['id']}/annotations", json={"start_ms": 0, "kind": "note", "text": "mine"}
    ).json()
    [delivery] = other_org.admin.api.get(f"/v1/webhook-endpoints/{hook.json()['id']}/deliveries").json()["items"]
    form = other_org.admin.api.post("/v1/client-forms", json={"recording_id": recording["id"], "rubric_key": "srs"})
    assert form.status_code == 201, form.text
    foreign = {
        "form_id": form.json()["id"],
        "member_id": supervisee.id,
        "link_id": link["id"],
        "key_id": key["id"],
        "case_id": case["id"],
        "recording_id": recording["id"],
        "request_id": request["id"],
        "review_id": review["id"],
        "annotation_id": annotation["id"],
        "therapist_id": supervisee.id,
        "provider_id": provider.json()["id"],
        "endpoint_id": hook.json()["id"],
        "delivery_id": delivery["id"],
    }

    routes = id_routes(app)
    assert routes, "no routes with ids found"
    for method, path in routes:
        params = re.findall(r"{(\w+):uuid}", path)
        missing = [p for p in params if p not in foreign]
        assert not missing, f"add a foreign {missing} to this test for {method} {path}"
        foreign_url = re.sub(r"{(\w+):uuid}", lambda m: foreign[m.group(1)], path)
        unknown_url = re.sub(r"{(\w+):uuid}", lambda _: str(uuid.uuid4()), path)
        if method in ("POST", "PATCH", "PUT"):
            assert (method, path) in BODIES, f"add a valid body for {method} {path} to this test"
        kwargs: dict[str, object] = {"json": BODIES[(method, path)]} if (method, path) in BODIES else {}
        if (method, path) in QUERIES:
            kwargs["params"] = QUERIES[(method, path)]
        headers = {"If-Match": '"1"'}
        seen = org.admin.api.request(method, foreign_url, headers=headers, **kwargs)
        never = org.admin.api.request(method, unknown_url, headers=headers, **kwargs)
        assert seen.status_code == never.status_code == 404, (method, path, seen.text)
        assert seen.content == never.content, (method, path)
        assert seen.headers["content-type"] == never.headers["content-type"]

    # and the other organisation's data is untouched
    assert other_org.admin.api.get("/v1/supervision-links").json()["items"][0]["id"] == link["id"]
    assert other_org.admin.api.get(f"/v1/members/{supervisee.id}").json()["name"] == "Member"
    assert other_org.admin.api.get(f"/v1/reviews/{review['id']}").json()["version"] == review["version"]
    assert len(other_org.admin.api.get(f"/v1/reviews/{review['id']}/annotations").json()["items"]) == 1


def test_lists_never_show_another_organisation(org: Org, other_org: Org) -> None:
    other_org.member("clinician")
    org_ids = {m["id"] for m in org.admin.api.get("/v1/members").json()["items"]}
    other_ids = {m["id"] for m in other_org.admin.api.get("/v1/members").json()["items"]}
    assert org_ids.isdisjoint(other_ids)
    assert all(
        e["actor_member_id"] in (org.admin.id, None) for e in org.admin.api.get("/v1/audit-events").json()["items"]
    )
