"""What each operation needs, declared where its handler is declared: ``@get(..., permission=MembersRead)``.

A permission is a scope the API key must hold (a key without scopes holds every scope its member's roles allow)
and, for a few operations, a role. It is checked before anything else about the request (its query, its body,
the ids it names), so a key that lacks it learns nothing about the data. Rules that depend on the data
(supervision, blind review, consent, whose key or review it is) stay in the services.

Litestar keeps the ``permission`` keyword in the handler's ``opt``; :class:`supervise.dependencies.Authentication`
authenticates the caller and checks it, right after routing. Not a Litestar guard: Litestar copies the route
handler for every guard call, which cost 13 µs of the 128 µs ``GET /v1/me`` took in process.

Every route but the public ones (health, the OpenAPI document) declares exactly one permission:
:func:`undeclared` lists those that do not, and the application refuses to start with any
(``supervise.app.create_app``); ``tests/auth/test_permissions.py`` calls every route with a key that lacks
what it declares. The OpenAPI document shows each operation's permission (:func:`document`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from litestar import Litestar
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.openapi.spec import OpenAPI, Operation

from supervise import problems
from supervise.auth.principal import Principal, Role, Scope
from supervise.problems import ProblemType

__all__ = [
    "ApiKeysRead",
    "ApiKeysWrite",
    "AuditAdmin",
    "Authenticated",
    "ByFormLink",
    "ClientFormsRead",
    "ClientFormsWrite",
    "ClientRatingsAdmin",
    "EventsAdmin",
    "IdentityProvidersRead",
    "IdentityProvidersWrite",
    "MembersAdmin",
    "MembersRead",
    "MembersWrite",
    "OrganisationAdmin",
    "RecordingsRead",
    "RecordingsWrite",
    "ReferencesAdmin",
    "Requires",
    "ReviewsRead",
    "ReviewsWrite",
    "SupervisionAdmin",
    "SupervisionRead",
    "Token",
    "WebhooksAdmin",
    "WebhooksRead",
    "document",
    "is_public",
    "permission_of",
    "undeclared",
]


@dataclass(frozen=True, slots=True)
class Requires:
    """The caller's key must hold ``scope`` (``None``: any valid key) and its member the ``role``."""

    scope: Scope | None
    role: Role | None = None

    def refusal(self, principal: Principal) -> tuple[ProblemType, str] | None:
        """Why ``principal`` may not do this (its problem type and detail), or ``None`` when it may."""
        if self.scope is not None and principal.scopes is not None and self.scope not in principal.scopes:
            # a token's member has no scopes: all of them
            return problems.SCOPE_MISSING, f"This API key lacks the scope '{self.scope}'."
        if self.role is not None and self.role not in principal.roles:
            return problems.ROLE_REQUIRED, f"Only a member with the {self.role} role may do this."
        return None

    def describe(self) -> str:
        if self.scope is None:
            return "any valid API key or access token."
        needs = f"the `{self.scope}` scope"
        return needs + (f" and the `{self.role}` role." if self.role else ".")


@dataclass(frozen=True, slots=True)
class Token:
    """No API key: the one-time token in the URL is the credential (a client's form link). Counted against the
    source address and the link (:meth:`supervise.throttle.Throttle.form_link`)."""

    def describe(self) -> str:
        return "no API key: the link's one-time token is the credential."


ByFormLink = Token()
Authenticated = Requires(None)
MembersRead = Requires(Scope.MEMBERS_READ)
MembersWrite = Requires(Scope.MEMBERS_WRITE)
MembersAdmin = Requires(Scope.MEMBERS_WRITE, Role.ADMIN)
OrganisationAdmin = Requires(Scope.MEMBERS_WRITE, Role.ADMIN)
SupervisionRead = Requires(Scope.SUPERVISION_READ)
SupervisionAdmin = Requires(Scope.SUPERVISION_WRITE, Role.ADMIN)
ApiKeysRead = Requires(Scope.API_KEYS_READ)
ApiKeysWrite = Requires(Scope.API_KEYS_WRITE)
AuditAdmin = Requires(Scope.AUDIT_READ, Role.ADMIN)
RecordingsRead = Requires(Scope.RECORDINGS_READ)
RecordingsWrite = Requires(Scope.RECORDINGS_WRITE)
ReviewsRead = Requires(Scope.REVIEWS_READ)
ReviewsWrite = Requires(Scope.REVIEWS_WRITE)
ReferencesAdmin = Requires(Scope.REVIEWS_WRITE, Role.ADMIN)
ClientRatingsAdmin = Requires(Scope.CLIENT_RATINGS_WRITE, Role.ADMIN)
ClientFormsRead = Requires(Scope.CLIENT_RATINGS_READ)
ClientFormsWrite = Requires(Scope.CLIENT_RATINGS_WRITE)
IdentityProvidersRead = Requires(Scope.MEMBERS_READ, Role.ADMIN)
IdentityProvidersWrite = Requires(Scope.MEMBERS_WRITE, Role.ADMIN)
EventsAdmin = Requires(Scope.EVENTS_READ, Role.ADMIN)
WebhooksRead = Requires(Scope.WEBHOOKS_READ, Role.ADMIN)
WebhooksAdmin = Requires(Scope.WEBHOOKS_WRITE, Role.ADMIN)


def permission_of(handler: BaseRouteHandler) -> Requires | Token | None:
    """The permission a handler declares; ``None`` for a public one."""
    declared = handler.opt.get("permission")
    if declared is not None and not isinstance(declared, Requires | Token):
        raise TypeError(f"{handler}: permission= takes a supervise.auth.permissions.Requires, not {declared!r}")
    return declared


PUBLIC = frozenset({"/healthz", "/readyz", "/docs", "/metrics", "/problems", "/problems/{slug:str}"})
"""Paths served without an API key, besides the OpenAPI document under ``/schema`` and the ``OPTIONS``
answers Litestar makes for every path (they list the methods, and disclose nothing)."""


def _routed(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """``(path, handler)`` of every HTTP route handler the application serves."""
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler)
    ]


def is_public(path: str, handler: HTTPRouteHandler) -> bool:
    return path in PUBLIC or path.startswith("/schema") or set(handler.http_methods) == {"OPTIONS"}


def undeclared(app: Litestar) -> list[str]:
    """Routes that are not public yet declare no permission (or take no transaction, which would leave what
    the authentication wrote uncommitted)."""
    faults = []
    for path, handler in _routed(app):
        methods = ", ".join(sorted(handler.http_methods))
        if is_public(path, handler):
            continue
        if permission_of(handler) is None:
            faults.append(f"{methods} {path}: declares no permission")
        elif not {"tx", "caller", "principal"} & set(handler.parsed_fn_signature.parameters):
            faults.append(f"{methods} {path}: takes no tx, caller or principal")
    return faults


@dataclass
class _Operation(Operation):
    """An operation with the permission it needs as an ``x-permission`` extension."""

    x_permission: dict[str, str | None] | None = field(default=None, metadata={"alias": "x-permission"})


def document(app: Litestar, schema: OpenAPI) -> None:
    """Show every operation's permission: as the API key's scope in ``security`` (OpenAPI 3.1 lets a bearer
    scheme list them), in the description, and as ``x-permission`` (scope and role)."""
    permissions = {
        handler.operation_id: permission
        for _, handler in _routed(app)
        if isinstance(handler.operation_id, str) and (permission := permission_of(handler)) is not None
    }
    for item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method)
            if operation is None or operation.operation_id not in permissions:
                continue
            permission = permissions[operation.operation_id]
            fields = {f.name: getattr(operation, f.name) for f in dataclasses.fields(Operation)}
            line = f"**Permission**: {permission.describe()}"
            fields["description"] = f"{operation.description}\n\n{line}" if operation.description else line
            if isinstance(permission, Token):
                fields["security"] = []  # no API key
                setattr(item, method, _Operation(**fields, x_permission={"scope": None, "role": None}))
                continue
            fields["security"] = [{"apiKey": [permission.scope.value] if permission.scope else []}]
            scope = permission.scope.value if permission.scope else None
            role = permission.role.value if permission.role else None
            setattr(item, method, _Operation(**fields, x_permission={"scope": scope, "role": role}))
