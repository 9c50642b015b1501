"""Every route declares the permission it needs, and is refused (403, audited) to a key that lacks it.

The routes come from the application itself, so a route added without a permission fails here (and the
application refuses to start with it). The permission is checked before anything else about the request, so
these calls need no valid ids, query or body.
"""

from __future__ import annotations

import re
import uuid

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from supervise.app import create_app
from supervise.auth import permissions
from supervise.auth.principal import Scope
from supervise.config import Settings
from tests.support import Api, Org
from tests.test_http import assert_problem

SAMPLE_PATH_VALUES = {"key": "alliance", "version": "1.0", "questionnaire_id": "alliance-1.0", "observation_id": "x"}


def routes(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    """``(method, path, handler)`` of every operation the application serves (Litestar's own OPTIONS aside)."""
    found = []
    for route in app.routes:
        for method, (handler, _) in getattr(route, "route_handler_map", {}).items():
            if method not in ("HEAD", "OPTIONS"):
                found.append((method, route.path, handler))
    return found


def url(path: str) -> str:
    return re.sub(
        r"{(\w+):(\w+)}", lambda m: str(uuid.uuid4()) if m.group(2) == "uuid" else SAMPLE_PATH_VALUES[m.group(1)], path
    )


def test_every_route_declares_a_permission_or_is_public(app: Litestar) -> None:
    found = routes(app)
    assert len(found) >= 50
    for method, path, handler in found:
        public = permissions.is_public(path, handler)
        declared = permissions.permission_of(handler)
        assert public or declared is not None, f"{method} {path} declares no permission"
        assert not (public and declared is not None), f"{method} {path} is public yet declares {declared}"
        if path.startswith("/v1/"):
            assert not public, f"{method} {path}: every /v1 route needs an API key"


def test_an_undeclared_route_stops_the_application(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from supervise.members.api import MemberController

    monkeypatch.delitem(MemberController.list_members.opt, "permission")
    with pytest.raises(Exception, match="GET /v1/members: declares no permission"):
        create_app(settings)


def test_a_key_without_the_scope_is_refused_before_anything_else(app: Litestar, org: Org) -> None:
    every = set(Scope)
    checked = 0
    for method, path, handler in routes(app):
        permission = permissions.permission_of(handler)
        if not isinstance(permission, permissions.Requires) or permission.scope is None:
            continue
        lacking = org.member("admin", "supervisor", "clinician", scopes=sorted(every - {permission.scope}))
        refused = assert_problem(lacking.api.request(method, url(path), json={"?": 1}), 403)
        assert permission.scope in refused["detail"], (method, path, refused)
        # the scope alone is enough to get past the permission (the answer is then about the request)
        only = org.member("admin", "supervisor", "clinician", scopes=[permission.scope])
        assert only.api.request(method, url(path), json={"?": 1}).status_code != 403, (method, path)
        checked += 1
    assert checked >= 45
    assert len(denied_events(org)) == checked


def denied_events(org: Org) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    cursor = None
    while True:
        page = org.admin.api.get("/v1/audit-events", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        events += [e for e in page.json()["items"] if e["outcome"] == "denied"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return events


def test_an_admin_only_operation_is_refused_to_other_roles(app: Litestar, org: Org) -> None:
    checked = 0
    for method, path, handler in routes(app):
        permission = permissions.permission_of(handler)
        if not isinstance(permission, permissions.Requires) or permission.role is None:
            continue
        for roles in (("supervisor", "clinician"), ()):
            member = org.member(*roles)
            refused = assert_problem(member.api.request(method, url(path), json={"?": 1}), 403)
            assert permission.role in refused["detail"], (method, path)
        checked += 1
    assert checked >= 6


def test_operations_for_any_key_still_need_one(app: Litestar, anonymous: Api) -> None:
    checked = 0
    for method, path, handler in routes(app):
        if permissions.permission_of(handler) == permissions.Authenticated:
            assert_problem(anonymous.request(method, url(path)), 401)
            checked += 1
    assert checked >= 6


def test_the_document_shows_each_operations_permission(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    for method, path, handler in routes(app):
        permission = permissions.permission_of(handler)
        if permission is None:
            continue
        operation = document["paths"][path.replace(":uuid", "").replace(":str", "")][method.lower()]
        assert "**Permission**" in operation["description"], (method, path)
        if isinstance(permission, permissions.Token):  # a client's form link: no API key
            assert (operation["security"], operation["x-permission"]) == ([], {}), (method, path)
            continue
        scopes = [permission.scope.value] if permission.scope else []
        assert operation["security"] == [{"apiKey": scopes}], (method, path)
        assert operation["x-permission"] == {
            k: v for k, v in (("scope", permission.scope), ("role", permission.role)) if v is not None
        }
        assert "**Permission**" in operation["description"], (method, path)
