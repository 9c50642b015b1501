"""The house rules that keep a request easy to follow: api -> service -> repository -> tables.

Every module of a domain package (``src/supervise/<domain>/``) has a role. Within and across domains:

- an ``api`` module uses services (its own domain's or any other's), schemas and support modules: no SQL;
- a ``service`` holds the rules: it uses its own domain's repository and tables, other domains only through
  their services, and runs no statement itself (no ``sqlalchemy`` import, no ``tx.execute``...);
- a ``repository`` holds the SQL: it may join other domains' tables, and embed from another domain's
  repository only what that repository lists in ``SHARED``;
- ``tables``, ``schemas`` and ``support`` modules (pure helpers) use nothing above them.

Services and repositories of different domains never depend on each other in a circle, and no module imports
itself back through others.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "supervise"
DOMAINS = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())

TABLES, SCHEMAS, SUPPORT, REPOSITORY, SERVICE, API = "tables", "schemas", "support", "repository", "service", "api"
BY_NAME = {"tables": TABLES, "schemas": SCHEMAS, "repository": REPOSITORY, "service": SERVICE, "api": API}
ROLES = {
    "aggregates.calibration": SERVICE,
    "aggregates.disclosure": REPOSITORY,
    "aggregates.comparisons": SERVICE,
    "aggregates.flags": SERVICE,
    "aggregates.markers": SERVICE,
    "aggregates.perspectives": SERVICE,
    "aggregates.shared": SERVICE,
    "aggregates.stats": SUPPORT,
    "aggregates.views": SERVICE,
    "audit.chain": SUPPORT,
    "audit.readlog": REPOSITORY,  # how read events are persisted: the group commit over the repository's appends
    "audit.denials": REPOSITORY,  # how refused attempts are persisted: counted, then appended once per window
    "auth.jwks": SUPPORT,  # fetches and caches providers' keys: no database
    "auth.keys": SUPPORT,
    "auth.oidc": SERVICE,
    "auth.permissions": API,  # declared on handlers, checked by the HTTP layer
    "auth.principal": SUPPORT,
    "auth.tokens": SUPPORT,
    "events.addresses": SUPPORT,
    "events.commands": API,  # the command line's entry to the events, as api.py is HTTP's
    "events.delivery": SERVICE,
    "events.webhooks": SERVICE,
    "recordings.batch": SERVICE,
    "fhir.capabilities": SUPPORT,
    "fhir.examples": SUPPORT,  # the OpenAPI examples, made by the builders
    "fhir.questionnaire": SUPPORT,  # builds resources from definitions: no database
    "fhir.responses": SUPPORT,
    "exports.cells": SUPPORT,  # CSV lines, with formulas defused
    "reviews.annotations": SERVICE,
    "reviews.references": SERVICE,
    "reviews.requests": SERVICE,
    "reviews.requests_api": API,
    "reviews.rules": SERVICE,
    "rubrics.commands": API,  # the command line: like the HTTP layer, it calls services
    "rubrics.diff": SUPPORT,
    "rubrics.edges": SUPPORT,  # the fixed responses supervise.testing.check_rubric tries first
    "rubrics.hookspecs": SUPPORT,
    "rubrics.flags": SUPPORT,
    "rubrics.model": SUPPORT,
    "rubrics.registry": SUPPORT,
    "rubrics.release": SERVICE,
    "rubrics.usage": REPOSITORY,  # what uses a rubric version, in every organisation
    "scores.periods": SUPPORT,
    "scores.sessions": REPOSITORY,
}
"""Modules named after what they do, rather than after their role: the role they play."""

# What a module of each role may import from another domain (its own domain: see SAME_DOMAIN).
OTHER_DOMAIN = {
    API: {SERVICE, SCHEMAS, SUPPORT, API},
    SERVICE: {SERVICE, SCHEMAS, SUPPORT},
    REPOSITORY: {TABLES, SUPPORT, REPOSITORY},  # another repository: only what it lists in SHARED
    TABLES: {TABLES, SUPPORT},
    SCHEMAS: {SCHEMAS, SUPPORT},
    SUPPORT: {TABLES, SCHEMAS, SUPPORT},
}
SAME_DOMAIN = {
    API: {SERVICE, SCHEMAS, SUPPORT, API},
    SERVICE: {SERVICE, REPOSITORY, TABLES, SCHEMAS, SUPPORT},
    REPOSITORY: {REPOSITORY, TABLES, SCHEMAS, SUPPORT},  # schemas: the filters a list is asked with
    TABLES: {TABLES, SUPPORT},
    SCHEMAS: {SCHEMAS, TABLES, SUPPORT},
    SUPPORT: {TABLES, SCHEMAS, SUPPORT},
}
SESSION_CALLS = {
    "add",
    "add_all",
    "begin",
    "begin_nested",
    "commit",
    "delete",
    "execute",
    "expunge",
    "flush",
    "get",
    "merge",
    "refresh",
    "rollback",
    "scalar",
    "scalars",
    "stream",
    "stream_scalars",
}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """``domain.module`` -> path, for every module of every domain package."""
    return {
        f"{domain}.{path.stem}": path
        for domain in DOMAINS
        for path in sorted((SRC / domain).glob("*.py"))
        if path.stem != "__init__"
    }


def role(name: str) -> str:
    return ROLES.get(name) or BY_NAME[name.split(".")[1]]


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import (``names`` empty for ``import x``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def targets(module: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """The domain modules an import reaches: ``from supervise.x import service`` reaches ``x.service``."""
    parts = module.split(".")
    if parts[0] != "supervise" or len(parts) < 2 or parts[1] not in DOMAINS:
        return []
    if len(parts) == 2:  # from supervise.reviews import service, rules
        return [(f"{parts[1]}.{name}", []) for name in names]
    return [(".".join(parts[1:3]), names)]


def test_every_domain_module_has_a_role() -> None:
    for name in modules():
        assert name in ROLES or name.split(".")[1] in BY_NAME, f"give {name} a role in ROLES"
    assert set(ROLES) <= set(modules()), set(ROLES) - set(modules())


def test_layers_and_domains_only_import_what_their_role_may() -> None:
    checked = 0
    for name, path in modules().items():
        domain, mine = name.split(".")[0], role(name)
        for module, names in imports(path):
            for target, imported in targets(module, names):
                if target not in modules():
                    continue
                theirs, same = role(target), target.split(".")[0] == domain
                allowed = SAME_DOMAIN[mine] if same else OTHER_DOMAIN[mine]
                assert theirs in allowed, f"{name} ({mine}) imports {target} ({theirs})"
                if theirs == REPOSITORY and not same:
                    shared = set(getattr(importlib.import_module(f"supervise.{target}"), "SHARED", ()))
                    assert imported and set(imported) <= shared, (
                        f"{name} imports {imported or 'the module'} from {target}; a repository shares only {shared}"
                    )
        checked += 1
    assert checked >= 40


def test_no_sql_above_the_repositories() -> None:
    for name, path in modules().items():
        if role(name) not in (SERVICE, API):
            continue
        for module, _ in imports(path):
            assert not module.startswith("sqlalchemy"), f"{name} imports {module}: SQL belongs in a repository"
        if role(name) == SERVICE:
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "tx"
                    and node.func.attr in SESSION_CALLS
                ):
                    raise AssertionError(f"{name}:{node.lineno} runs tx.{node.func.attr}: ask a repository")


def test_no_http_below_the_api() -> None:
    for name, path in modules().items():
        if role(name) in (API,):
            continue
        for module, _ in imports(path):
            assert not module.startswith("litestar") and module != "supervise.http", f"{name} imports {module}"


def test_services_and_repositories_of_domains_form_no_circle() -> None:
    """The edges that carry rules and data: one domain's service or repository using another's."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules().items():
        if role(name) not in (SERVICE, REPOSITORY):
            continue
        for module, names in imports(path):
            for target, _ in targets(module, names):
                crosses = target.split(".")[0] != name.split(".")[0]
                if crosses and target in modules() and role(target) in (SERVICE, REPOSITORY):
                    graph[name.split(".")[0]].add(target.split(".")[0])
    assert not _cycle(graph), _cycle(graph)


def test_no_module_imports_itself_back() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for module, names in imports(path):
            if module.startswith("supervise"):
                candidates = [module, *(f"{module}.{n}" for n in names)]
                graph[name] |= {c for c in candidates if _exists(c)}
    assert not _cycle(graph), _cycle(graph)


def test_modules_fit_in_a_head() -> None:
    for path in SRC.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(SRC)}: {lines} lines; split it by what it does"


def test_no_module_level_app_engine_or_settings() -> None:
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                called = ast.unparse(node.value.func)
                assert not called.endswith(("create_app", "create_async_engine", "Settings", "from_env")), (
                    f"{path.relative_to(SRC)}: {ast.unparse(node)}"
                )


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (SRC / relative).with_suffix(".py").exists() or (SRC / relative / "__init__.py").exists()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle in ``graph`` (as the nodes along it), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None
