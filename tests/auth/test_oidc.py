"""People sign in with their clinic's identity provider: its access tokens (JWT) as ``Authorization: Bearer``.

The provider is real enough: an RSA key pair made here, and its keys (JWKS) and discovery document served over
HTTP by a loopback server this module starts and stops. Each test publishes its own key set under its own path
and registers its own audience, so the tests share the server and the application without sharing keys.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import msgspec
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from litestar import Litestar
from litestar.testing import TestClient

from supervise.app import create_app
from supervise.audit.service import verify_chain
from supervise.auth.jwks import url_problem
from supervise.config import ConfigError, Settings
from supervise.db import Database
from supervise.runtime import Runtime
from tests.support import Api, Org, make_org
from tests.test_http import assert_problem

# ------------------------------------------------------------------------------------ the identity provider


class _Published:
    """What the loopback provider serves, by path, and how often each path was asked for."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def publish(self, path: str, document: dict[str, Any]) -> None:
        with self.lock:
            self.documents[path] = json.dumps(document).encode()


@pytest.fixture(scope="module")
def published() -> Iterator[tuple[_Published, str]]:
    """The loopback provider: (what it serves, its base URL). Stopped when the module's tests are done."""
    served = _Published()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with served.lock:
                served.hits[self.path] += 1
                body = served.documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def oidc_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, oidc_allow_http_loopback=True)


@pytest.fixture(scope="module")
def oidc_client(oidc_settings: Settings) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(oidc_settings), raise_server_exceptions=False) as client:
        yield client


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public = key.public_key()
    made = RSAAlgorithm.to_jwk(public, as_dict=True) if isinstance(public, rsa.RSAPublicKey) else None
    if made is None:
        made = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**made, "kid": kid, "use": "sig"}


@dataclass
class Idp:
    """One test's provider: its issuer (shared), its own key set path and audience, and its keys."""

    served: _Published
    issuer: str
    path: str
    audience: str
    keys: dict[str, Any] = field(default_factory=dict)

    @property
    def jwks_uri(self) -> str:
        return self.issuer + self.path

    def publish(self, *kids: str) -> None:
        self.served.publish(self.path, {"keys": [_jwk(self.keys[kid], kid) for kid in kids]})

    def fetches(self) -> int:
        return self.served.hits[self.path]

    def token(
        self,
        sub: str = "subject-1",
        *,
        kid: str = "k1",
        algorithm: str = "RS256",
        key: Any = None,
        lifetime: dt.timedelta = dt.timedelta(minutes=5),
        **claims: Any,
    ) -> str:
        now = dt.datetime.now(dt.UTC)
        payload = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now, "exp": now + lifetime}
        payload.update(claims)
        signer = key if key is not None else self.keys[kid]
        return jwt.encode(payload, signer, algorithm=algorithm, headers={"kid": kid})

    def register(self, org: Org, **overrides: Any) -> dict[str, Any]:
        body = {"name": "Clinic Keycloak", "issuer": self.issuer, "audience": self.audience, "jwks_uri": self.jwks_uri}
        body.update(overrides)
        made = org.admin.api.post("/v1/identity-providers", json=body)
        assert made.status_code == 201, made.text
        return dict(made.json())


@pytest.fixture
def idp(published: tuple[_Published, str]) -> Idp:
    served, base = published
    provider = Idp(served, base, f"/{uuid.uuid4().hex}/jwks", f"api://supervise/{uuid.uuid4().hex}")
    provider.keys["k1"] = _rsa()
    provider.publish("k1")
    return provider


@pytest.fixture
def org(oidc_client: TestClient[Litestar], oidc_settings: Settings) -> Org:
    return make_org(oidc_client, oidc_settings)


@pytest.fixture
def other_org(oidc_client: TestClient[Litestar], oidc_settings: Settings) -> Org:
    return make_org(oidc_client, oidc_settings)


def bearer(client: TestClient[Litestar], token: str) -> Api:
    return Api(client, token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(payload: str, header: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + payload


def _hmac_signed(payload: str, secret: bytes) -> str:
    """A token "signed" with HS256 under ``secret``: the classic attack uses the provider's public key."""
    signing_input = _unsigned(payload, {"alg": "HS256", "kid": "k1", "typ": "JWT"})
    return signing_input + "." + _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def _tampered(token: str) -> str:
    """The token with its subject changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    return header + "." + _b64(json.dumps(claims).encode()) + "." + signature


def rejection(client: TestClient[Litestar], token: str) -> bytes:
    """The 401 a token gets on ``/v1/me``, as bytes."""
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return response.content


# ---------------------------------------------------------------------------------------------- the tests


def test_a_member_signs_in_with_a_verified_email_and_then_by_subject(org: Org, idp: Idp) -> None:
    idp.register(org)
    clinician = org.member("clinician")
    first = bearer(org.client, idp.token("alice", email=clinician.email.upper(), email_verified=True))
    me = first.get("/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["member"]["id"] == clinician.id
    assert me.json()["api_key"] is None
    assert me.json()["identity"]["issuer"] == idp.issuer and me.json()["identity"]["subject"] == "alice"
    # Bound: the subject alone identifies them now, whatever the token says of email.
    assert bearer(org.client, idp.token("alice")).get("/v1/me").json()["member"]["id"] == clinician.id
    # Roles come from the membership, never from the token's claims.
    claims_admin = bearer(org.client, idp.token("alice", roles=["admin"], groups=["admin"], scope="admin"))
    assert_problem(claims_admin.get("/v1/identity-providers"), 403)
    # The address is taken by the bound subject: another subject proving it does not inherit the member.
    other = idp.token("mallory", email=clinician.email, email_verified=True)
    assert rejection(org.client, other) == rejection(org.client, idp.token("nobody"))


def test_every_bad_token_gets_the_same_401(org: Org, idp: Idp) -> None:
    idp.register(org)
    clinician = org.member("clinician")
    good = idp.token("bob", email=clinician.email, email_verified=True)
    assert bearer(org.client, good).get("/v1/me").status_code == 200
    public_pem = (
        idp.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    payload = idp.token("bob").split(".")[1]
    deactivated = org.member("clinician")
    bound = idp.token("carol", email=deactivated.email, email_verified=True)
    assert bearer(org.client, bound).get("/v1/me").status_code == 200
    current = org.admin.api.get(f"/v1/members/{deactivated.id}")
    off = org.admin.api.patch(
        f"/v1/members/{deactivated.id}", json={"active": False}, headers={"If-Match": current.headers["etag"]}
    )
    assert off.status_code == 200, off.text
    bad = {
        "expired": idp.token("bob", lifetime=dt.timedelta(minutes=-5)),
        "not yet valid": idp.token("bob", nbf=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)),
        "wrong audience": idp.token("bob", aud="api://someone-else"),
        "wrong issuer": idp.token("bob", iss="http://127.0.0.1:1/other"),
        "no expiry": jwt.encode(
            {"iss": idp.issuer, "aud": idp.audience, "sub": "bob"}, idp.keys["k1"], "RS256", {"kid": "k1"}
        ),
        "alg none": _unsigned(payload, {"alg": "none", "kid": "k1"}) + ".",
        "HS256 with the public key": _hmac_signed(payload, public_pem),
        "another key, same kid": idp.token("bob", key=_rsa()),
        "tampered": _tampered(idp.token("bob")),
        "unknown member": idp.token("dave", email="nobody@clinic.example", email_verified=True),
        "unverified email": idp.token("erin", email=org.member("clinician").email, email_verified=False),
        "deactivated member": bound,
    }
    expected = rejection(org.client, bad["expired"])
    for case, token in bad.items():
        assert rejection(org.client, token) == expected, case
    assert bearer(org.client, good).get("/v1/me").status_code == 200  # the good token still works


def test_keys_rotate_refetched_on_an_unknown_kid_at_most_once_a_minute(org: Org, idp: Idp) -> None:
    idp.register(org)
    clinician = org.member("clinician")
    email = {"email": clinician.email, "email_verified": True}
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as clock:
        assert bearer(org.client, idp.token("frank", **email)).get("/v1/me").status_code == 200
        assert idp.fetches() == 1
        assert bearer(org.client, idp.token("frank")).get("/v1/me").status_code == 200
        assert idp.fetches() == 1  # cached
        idp.keys["k2"] = _rsa()
        idp.publish("k2")  # the provider rotates: k1 withdrawn, k2 published
        # Fetched within the minute: an unknown kid does not make us fetch again yet.
        rejection(org.client, idp.token("frank", kid="k2"))
        assert idp.fetches() == 1
        clock.shift(dt.timedelta(seconds=61))
        assert bearer(org.client, idp.token("frank", kid="k2")).get("/v1/me").status_code == 200
        assert idp.fetches() == 2
        # k1 left the set with that fetch; a kid the provider never published is refused, without a fetch.
        rejection(org.client, idp.token("frank", kid="k1"))
        rejection(org.client, idp.token("frank", kid="never-published", key=idp.keys["k2"]))
        assert idp.fetches() == 2


def test_keys_found_through_discovery_and_other_algorithms(org: Org, idp: Idp) -> None:
    issuer = idp.issuer + f"/realms/{uuid.uuid4().hex}"
    idp.served.publish(
        issuer.removeprefix(idp.issuer) + "/.well-known/openid-configuration",
        {"issuer": issuer, "jwks_uri": idp.jwks_uri},
    )
    idp.keys["ec"] = ec.generate_private_key(ec.SECP256R1())
    idp.publish("k1", "ec")
    made = idp.register(org, issuer=issuer, jwks_uri=None)
    assert made["jwks_uri"] is None
    clinician = org.member("clinician")
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": issuer, "aud": idp.audience, "sub": "gina", "exp": now + dt.timedelta(minutes=5)}
    claims.update(email=clinician.email, email_verified=True)
    for algorithm, kid in (("ES256", "ec"), ("PS256", "k1"), ("RS256", "k1")):
        token = jwt.encode(claims, idp.keys[kid], algorithm=algorithm, headers={"kid": kid})
        assert bearer(org.client, token).get("/v1/me").status_code == 200, algorithm
    # An ES256 header over the RSA key's kid is refused: the key decides the algorithm family.
    mismatched = jwt.encode(claims, idp.keys["ec"], algorithm="ES256", headers={"kid": "k1"})
    rejection(org.client, mismatched)


def test_a_token_of_one_organisation_finds_nothing_of_another(org: Org, other_org: Org, idp: Idp) -> None:
    idp.register(org)
    admin_token = idp.token("hank", email=org.admin.email, email_verified=True)
    as_admin = bearer(org.client, admin_token)
    assert as_admin.get("/v1/me").json()["organisation"]["id"] == org.id
    theirs = other_org.member("clinician")
    foreign = as_admin.get(f"/v1/members/{theirs.id}")
    never = as_admin.get(f"/v1/members/{uuid.uuid4()}")
    assert_problem(foreign, 404)
    assert foreign.content == never.content
    their_provider = Idp(idp.served, idp.issuer, idp.path, f"api://supervise/{uuid.uuid4().hex}", idp.keys)
    registered = their_provider.register(other_org)
    missing = as_admin.get(f"/v1/identity-providers/{registered['id']}")
    assert_problem(missing, 404)
    assert missing.content == as_admin.get(f"/v1/identity-providers/{uuid.uuid4()}").content
    # An email of the other organisation's member proves nothing here, as the token's audience is ours.
    rejection(org.client, idp.token("ivy", email=theirs.email, email_verified=True))


def test_providers_are_managed_by_admins_and_audited(org: Org, other_org: Org, idp: Idp) -> None:
    body = {"name": "Entra", "issuer": idp.issuer, "audience": idp.audience, "jwks_uri": idp.jwks_uri}
    made = org.admin.api.post("/v1/identity-providers", json=body, headers={"Idempotency-Key": "idp-1"})
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/v1/identity-providers/{made.json()['id']}"
    assert made.headers["etag"] == '"1"'
    again = org.admin.api.post("/v1/identity-providers", json=body, headers={"Idempotency-Key": "idp-1"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == made.json()
    provider = made.json()["id"]
    assert [p["id"] for p in org.admin.api.get("/v1/identity-providers").json()["items"]] == [provider]
    # The pair belongs to one organisation: another cannot take it.
    taken = assert_problem(other_org.admin.api.post("/v1/identity-providers", json=body), 409)
    assert taken["type"].endswith("/identity-provider-exists")
    clinician = org.member("clinician")
    assert_problem(clinician.api.get("/v1/identity-providers"), 403)
    assert_problem(clinician.api.post("/v1/identity-providers", json={**body, "audience": "x"}), 403)
    for field_name, value in (("issuer", "http://idp.clinic.example"), ("jwks_uri", "ftp://idp.clinic.example/k")):
        refused = org.admin.api.post("/v1/identity-providers", json={**body, "audience": "y", field_name: value})
        problem = assert_problem(refused, 422)
        assert {e["field"] for e in problem["errors"]} == {field_name}
        assert problem["type"].endswith("/address-refused")
    current = org.admin.api.get(f"/v1/identity-providers/{provider}")
    assert_problem(org.admin.api.patch(f"/v1/identity-providers/{provider}", json={"name": "Entra ID"}), 428)
    renamed = org.admin.api.patch(
        f"/v1/identity-providers/{provider}", json={"name": "Entra ID"}, headers={"If-Match": current.headers["etag"]}
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Entra ID"
    assert renamed.headers["etag"] == '"2"'
    token = idp.token("jack", email=clinician.email, email_verified=True)
    assert bearer(org.client, token).get("/v1/me").status_code == 200
    assert org.admin.api.delete(f"/v1/identity-providers/{provider}").status_code == 204
    rejection(org.client, token)  # its tokens stop working at once
    assert_problem(org.admin.api.get(f"/v1/identity-providers/{provider}"), 404)
    actions = [e["action"] for e in org.admin.api.get("/v1/audit-events", params={"limit": 200}).json()["items"]]
    for action in ("identity_provider.create", "identity_provider.update", "identity_provider.delete"):
        assert action in actions


def test_audit_events_record_the_tokens_issuer_and_subject(org: Org, idp: Idp, oidc_settings: Settings) -> None:
    idp.register(org)
    as_admin = bearer(org.client, idp.token("kim", email=org.admin.email, email_verified=True))
    made = as_admin.post("/v1/members", json={"name": "New", "email": "new@clinic.example", "roles": ["clinician"]})
    assert made.status_code == 201, made.text
    events = org.admin.api.get("/v1/audit-events", params={"limit": 200}).json()["items"]
    created = next(e for e in events if e["action"] == "member.create" and e["resource_id"] == made.json()["id"])
    assert created["actor_member_id"] == org.admin.id
    assert created["api_key_id"] is None
    assert (created["token_issuer"], created["token_subject"]) == (idp.issuer, "kim")
    bind = next(e for e in events if e["action"] == "member.identity_bind")
    assert (bind["resource_id"], bind["token_subject"]) == (org.admin.id, "kim")
    keyed = next(e for e in events if e["action"] == "identity_provider.create")
    assert keyed["api_key_id"] is not None and keyed["token_issuer"] is None
    # The README's hash scheme, with the standard library alone: issuer and subject are hashed after count.
    fields = ["actor_member_id", "api_key_id", "action", "resource_type", "resource_id", "outcome"]
    at = dt.datetime.fromisoformat(created["occurred_at"].replace("Z", "+00:00")).isoformat()
    canonical = [org.id, created["seq"], at, *(created[f] for f in fields), created["request_id"]]
    canonical += [created["source_address"], created["prev_hash"], created["count"], idp.issuer, "kim"]
    encoded = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(encoded).hexdigest() == created["hash"]
    # The chain, issuer and subject included, still verifies.
    assert asyncio.run(_chain_breaks(oidc_settings, uuid.UUID(org.id))) is None


async def _chain_breaks(settings: Settings, org_id: uuid.UUID) -> object:
    database = Database(settings)
    try:
        async with database.transaction() as tx:
            return await verify_chain(tx, org_id)
    finally:
        await database.dispose()


def test_tokens_never_reach_the_logs(org: Org, idp: Idp, caplog: pytest.LogCaptureFixture) -> None:
    idp.register(org)
    unreachable = Idp(idp.served, idp.issuer, "/missing/jwks", f"api://supervise/{uuid.uuid4().hex}", idp.keys)
    unreachable.register(org)
    tokens = [
        idp.token("liam", email=org.admin.email, email_verified=True),
        idp.token("liam", lifetime=dt.timedelta(minutes=-1)),
        idp.token("nobody"),
        unreachable.token("liam"),  # its keys cannot be fetched: a warning is logged, without the token
    ]
    with caplog.at_level(logging.DEBUG):
        for token in tokens:
            org.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert any("could not fetch" in record.getMessage() for record in caplog.records)
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for token in tokens:
        for part in token.split("."):
            assert part not in logged


def test_a_token_for_two_organisations_audiences_signs_in_to_neither(org: Org, other_org: Org, idp: Idp) -> None:
    idp.register(org)
    theirs = Idp(idp.served, idp.issuer, idp.path, f"api://supervise/{uuid.uuid4().hex}", idp.keys)
    theirs.register(other_org)
    both = idp.token("nina", aud=[idp.audience, theirs.audience], email=org.admin.email, email_verified=True)
    assert rejection(org.client, both) == rejection(org.client, idp.token("nobody"))
    ours = idp.token("nina", aud=[idp.audience, "api://unregistered"], email=org.admin.email, email_verified=True)
    assert bearer(org.client, ours).get("/v1/me").json()["organisation"]["id"] == org.id


@pytest.mark.parametrize(
    ("name", "value"),
    [("OIDC_LEEWAY_SECONDS", "3600"), ("OIDC_JWKS_REFETCH_SECONDS", "0"), ("OIDC_HTTP_TIMEOUT_SECONDS", "0")],
)
def test_settings_out_of_bounds_stop_the_server(name: str, value: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"SUPERVISE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", f"SUPERVISE_{name}": value})
    with pytest.raises(ConfigError, match=f"SUPERVISE_{name}"):
        Runtime.build(settings)
    with pytest.raises(ConfigError, match="true or false"):
        Settings.from_env({"SUPERVISE_OIDC_ALLOW_HTTP_LOOPBACK": "maybe"})


def test_only_https_urls_unless_loopback_is_allowed_for_tests() -> None:
    assert url_problem("https://login.microsoftonline.com/tenant/v2.0", allow_http_loopback=False) is None
    assert url_problem("http://login.clinic.example", allow_http_loopback=True) == "must be https://"
    assert url_problem("http://127.0.0.1:8080/jwks", allow_http_loopback=True) is None
    assert url_problem("http://127.0.0.1:8080/jwks", allow_http_loopback=False) is not None
    assert url_problem("https://localhost/jwks", allow_http_loopback=False) is not None
    assert url_problem("https://169.254.169.254/latest", allow_http_loopback=True) is not None
    assert url_problem("https://user@idp.example/", allow_http_loopback=False) is not None
