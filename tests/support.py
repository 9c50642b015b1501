"""Helpers the tests share: an organisation with an admin, and a client bound to one API key."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from supervise.cli import _create_org
from supervise.config import Settings


@dataclass
class Api:
    """Requests with one API key (or none)."""

    client: TestClient[Litestar]
    key: str | None

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        all_headers.update(headers or {})
        return self.client.request(method, url, headers=all_headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@dataclass
class Person:
    id: str
    api: Api
    email: str


@dataclass
class Org:
    id: str
    admin: Person
    client: TestClient[Litestar]
    people: list[Person] = field(default_factory=list)

    def member(
        self, *roles: str, name: str = "Member", kind: str = "person", scopes: list[str] | None = None
    ) -> Person:
        """A new member with these roles and an API key of their own (made through the API by the admin)."""
        email = f"{uuid.uuid4().hex[:10]}@clinic.example"
        body: dict[str, Any] = {"name": name, "roles": list(roles), "kind": kind}
        if kind == "person":
            body["email"] = email
        made = self.admin.api.post("/v1/members", json=body)
        assert made.status_code == 201, made.text
        member_id = made.json()["id"]
        key_body: dict[str, Any] = {"name": "test key"}
        if "admin" in roles and kind == "person":
            key_body["on_behalf"] = True  # the admin makes another admin's key, and says so
        if scopes is not None:
            key_body["scopes"] = scopes
        key = self.admin.api.post(f"/v1/members/{member_id}/api-keys", json=key_body)
        assert key.status_code == 201, key.text
        person = Person(member_id, Api(self.client, key.json()["secret"]), email)
        self.people.append(person)
        return person


def make_org(client: TestClient[Litestar], settings: Settings, name: str = "Test clinic") -> Org:
    admin_email = f"admin-{uuid.uuid4().hex[:10]}@clinic.example"
    made = asyncio.run(_create_org(settings, name, "Admin", admin_email))
    admin = Person(made["member_id"], Api(client, made["api_key"]), admin_email)
    return Org(made["org_id"], admin, client)
