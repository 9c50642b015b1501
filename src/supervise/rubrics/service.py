"""Serving rubric definitions, snapshotting them on first use, refusing changed definitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec

from supervise import problems
from supervise.db import Tx
from supervise.errors import FieldError, NotFound, PluginFailure, Unprocessable
from supervise.rubrics import repository
from supervise.rubrics.diff import definition_diff
from supervise.rubrics.model import (
    Responses,
    Result,
    Rubric,
    RubricDefinition,
    definition_checksum,
    responses_schema,
)
from supervise.rubrics.registry import Registry, RubricError, check_result, version_key
from supervise.rubrics.tables import RubricSnapshot

__all__ = [
    "Served",
    "SnapshotCheck",
    "check_snapshots",
    "describe_changes",
    "ensure_snapshot",
    "get_latest",
    "get_version",
    "list_latest",
    "score_responses",
    "verify_snapshots",
]

log = logging.getLogger("supervise.rubrics")


@dataclass(frozen=True)
class Served:
    definition: RubricDefinition
    checksum: str
    plugin: str | None
    versions: list[str]
    responses_schema: dict[str, object]


def _serve(registry: Registry, rubric: Rubric) -> Served:
    definition = rubric.definition()
    return Served(
        definition=definition,
        checksum=definition_checksum(definition),
        plugin=registry.owners[(rubric.key, rubric.version)],
        versions=registry.known_versions(rubric.key),
        responses_schema=rubric.responses_schema(),
    )


def list_latest(registry: Registry) -> list[Served]:
    return [_serve(registry, rubric) for rubric in registry.all_latest()]


def get_latest(registry: Registry, key: str) -> Served:
    rubric = registry.latest(key)
    if rubric is None:
        raise NotFound("installed rubric")
    return _serve(registry, rubric)


async def get_version(tx: Tx, registry: Registry, key: str, version: str) -> Served:
    """An installed version, or one no longer installed, from the snapshot taken when it was first used."""
    rubric = registry.get(key, version)
    if rubric is not None:
        return _serve(registry, rubric)
    snapshot = await repository.get_snapshot(tx, key, version)
    if snapshot is None:
        raise NotFound("rubric version")
    definition = msgspec.convert(snapshot.definition, RubricDefinition)
    return Served(
        definition=definition,
        checksum=snapshot.checksum,
        plugin=None,
        versions=registry.known_versions(key),
        responses_schema=responses_schema(definition.unit, definition.items),
    )


def score_responses(registry: Registry, key: str, version: str, responses: Responses, *, complete: bool) -> Result:
    """Validate responses against an installed rubric and score them. Invalid responses: 422 naming each
    item; a plugin that raises or returns an invalid result: :class:`PluginFailure` naming the plugin."""
    rubric = registry.get(key, version)
    if rubric is None:
        raise NotFound("installed rubric version")
    unfit = rubric.validate(responses, complete=complete)
    if unfit:
        raise Unprocessable(
            problems.RESPONSES_INVALID,
            f"The responses do not fit {key} {version}.",
            errors=[FieldError(field, message) for field, message in unfit],
        )
    plugin = registry.owners[(key, version)]
    try:
        result = rubric.run_scoring(responses)
    except Exception as exc:
        log.exception("plugin %s failed scoring %s %s", plugin, key, version)
        raise PluginFailure(f"Plugin '{plugin}' failed while scoring {key} {version}: {type(exc).__name__}.") from exc
    faults = check_result(rubric, result)
    if faults:
        log.error("plugin %s returned an invalid result for %s %s: %s", plugin, key, version, "; ".join(faults))
        raise PluginFailure(f"Plugin '{plugin}' returned an invalid result for {key} {version}: {'; '.join(faults)}.")
    return result


async def ensure_snapshot(tx: Tx, registry: Registry, rubric: Rubric) -> None:
    """Record the definition of ``rubric`` the first time it is used (idempotent, safe under concurrency)."""
    if await repository.get_snapshot(tx, rubric.key, rubric.version) is not None:
        return
    definition = rubric.definition()
    snapshot = RubricSnapshot(
        key=rubric.key,
        version=rubric.version,
        checksum=definition_checksum(definition),
        definition=msgspec.to_builtins(definition),
        plugin=registry.owners[(rubric.key, rubric.version)],
    )
    await repository.add_snapshot_once(tx, snapshot)


@dataclass(frozen=True)
class SnapshotCheck:
    """One snapshot against what is installed now."""

    key: str
    version: str
    state: str
    """``same``, ``changed`` (``diff`` says how), or ``not installed`` (the reviews keep their snapshot)."""
    plugin: str | None
    diff: list[str]


async def check_snapshots(tx: Tx, registry: Registry) -> list[SnapshotCheck]:
    """Every snapshot compared with the installed definition of its ``(key, version)``, field by field."""
    checks = []
    for snapshot in await repository.all_snapshots(tx):
        rubric = registry.get(snapshot.key, snapshot.version)
        if rubric is None:
            checks.append(SnapshotCheck(snapshot.key, snapshot.version, "not installed", snapshot.plugin, []))
            continue
        owner = registry.owners[(rubric.key, rubric.version)]
        if rubric.checksum() == snapshot.checksum:
            checks.append(SnapshotCheck(snapshot.key, snapshot.version, "same", owner, []))
            continue
        diff = definition_diff(snapshot.definition, msgspec.to_builtins(rubric.definition()))
        checks.append(
            SnapshotCheck(
                snapshot.key, snapshot.version, "changed", owner, diff or ["(no field differs: only the checksum)"]
            )
        )
    return sorted(checks, key=lambda c: (c.key, version_key(c.version)))


def describe_changes(checks: list[SnapshotCheck]) -> str:
    """The changed definitions, one field per line under each, as the startup refusal prints them."""
    lines = []
    for check in checks:
        if check.state == "changed":
            lines.append(f"  {check.key} {check.version} (plugin '{check.plugin}'):")
            lines += [f"    {line}" for line in check.diff]
    return "\n".join(lines)


async def verify_snapshots(tx: Tx, registry: Registry) -> None:
    """Refuse to run when an installed plugin changed the definition of a ``(key, version)`` already used,
    printing what changed; note the versions used and no longer installed in ``registry.retired``."""
    checks = await check_snapshots(tx, registry)
    for check in checks:
        if check.state == "not installed":
            registry.retired.setdefault(check.key, set()).add(check.version)
    if any(check.state == "changed" for check in checks):
        raise RubricError(
            "the definition of rubrics already used in reviews changed:\n"
            + describe_changes(checks)
            + "\nReviews keep their (key, version) forever: restore the old definition and publish the change "
            "under a new version (or, for a version only drafts use, 'supervise rubrics release KEY VERSION')."
        )
