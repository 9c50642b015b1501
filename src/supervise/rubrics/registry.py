"""Loading rubric plugins through the ``supervise`` entry point group, and validating what they declare.

The host never imports a plugin by name: first-party plugins come through the same door as anyone's.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import cast

import pluggy

from supervise.rubrics import hookspecs
from supervise.rubrics.model import (
    BooleanScale,
    CountScale,
    OrdinalScale,
    Responses,
    Result,
    Rubric,
    SegmentResponses,
    Value,
)

__all__ = [
    "PluginInfo",
    "Registry",
    "RubricError",
    "check_result",
    "load_registry",
    "neutral_responses",
    "validate_rubric",
    "version_key",
]

ENTRY_POINT_GROUP = "supervise"
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")
_ITEM = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ROLES = {"supervisor", "peer", "self", "client"}


class RubricError(Exception):
    """A plugin or one of its rubrics is unusable; the message names the plugin and the fault."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    """The plugin's entry point name."""
    distribution: str
    version: str
    hooks: tuple[str, ...]
    rubrics: tuple[tuple[str, str], ...]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+-]", version))


@dataclass
class Registry:
    """The installed rubrics by ``(key, version)``, and the plugins that provide them."""

    rubrics: dict[tuple[str, str], Rubric] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    retired: dict[str, set[str]] = field(default_factory=dict)
    """Versions no longer installed that reviews used, by key: read from the database's snapshots when the
    server starts (``rubrics.service.verify_snapshots``). Only a process that has a version installed can
    snapshot it, so between deployments this does not change."""
    answers: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """Encoded definitions as ``/v1/rubrics`` serves them: the same bytes for as long as the process runs."""

    def get(self, key: str, version: str) -> Rubric | None:
        return self.rubrics.get((key, version))

    def latest(self, key: str) -> Rubric | None:
        versions = [r for (k, _), r in self.rubrics.items() if k == key]
        return max(versions, key=lambda r: version_key(r.version), default=None)

    def all_latest(self) -> list[Rubric]:
        return [rubric for key in sorted({k for k, _ in self.rubrics}) if (rubric := self.latest(key))]

    def versions(self, key: str) -> list[str]:
        return sorted((v for k, v in self.rubrics if k == key), key=version_key)

    def known_versions(self, key: str) -> list[str]:
        """Installed, or used by reviews and no longer installed."""
        return sorted({*self.versions(key), *self.retired.get(key, ())}, key=version_key)


def _entry_points(allow: frozenset[str] | None) -> Iterable[tuple[str, str, str, ModuleType]]:
    normalised = {a.strip().lower().replace("_", "-") for a in allow} if allow is not None else None
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.name if dist else entry_point.name
        if normalised is not None and dist_name.lower().replace("_", "-") not in normalised:
            continue
        try:
            module = entry_point.load()
        except Exception as exc:
            raise RubricError(f"plugin '{entry_point.name}' ({dist_name}) failed to import: {exc!r}") from exc
        yield entry_point.name, dist_name, dist.version if dist else "unknown", module


def _unknown_plugins(names: list[str]) -> str:
    """Why ``SUPERVISE_PLUGINS`` names cannot be loaded, with the distribution meant where it can tell."""
    by_entry_point = {
        entry_point.name: entry_point.dist.name
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if entry_point.dist is not None
    }
    absent, hints = [], []
    for name in names:
        if name in by_entry_point:
            hints.append(f"'{name}' is a plugin's entry point: name its distribution, {by_entry_point[name]}")
            continue
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            absent.append(name)
        else:
            hints.append(f"{name} is installed but is not a supervise plugin (no '{ENTRY_POINT_GROUP}' entry point)")
    if absent:
        verb = "is" if len(absent) == 1 else "are"
        hints.insert(0, f"{', '.join(absent)} {verb} not installed")
    available = ", ".join(sorted(set(by_entry_point.values()))) or "none"
    return f"SUPERVISE_PLUGINS lists distributions to load: {'; '.join(hints)} (installed plugins: {available})"


def load_registry(allow: frozenset[str] | None = None, extra: Iterable[tuple[str, object]] = ()) -> Registry:
    """Load every installed plugin (only the distributions in ``allow``, when given) and validate it.

    ``extra`` registers more ``(name, plugin)`` objects directly: how tests inject plugins into a fresh
    plugin manager without installing them.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    dists: dict[str, tuple[str, str]] = {}
    for name, dist_name, version, module in _entry_points(allow):
        manager.register(module, name=name)
        dists[name] = (dist_name, version)
    for name, plugin in extra:
        manager.register(plugin, name=name)
        dists[name] = (name, "unregistered")
    if allow is not None:
        found = {dist.lower().replace("_", "-") for dist, _ in dists.values()}
        missing = sorted(a for a in allow if a.strip().lower().replace("_", "-") not in found)
        if missing:
            raise RubricError(_unknown_plugins(missing))
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise RubricError(f"plugin '{exc.plugin}' implements an unknown hook: {exc}") from exc

    for name, plugin in manager.list_name_plugin():
        if not manager.get_hookcallers(plugin):
            raise RubricError(f"plugin '{name}' implements no hook: mark supervise_rubrics() with @hookimpl")
    registry = Registry()
    for impl in manager.hook.supervise_rubrics.get_hookimpls():
        plugin_name = impl.plugin_name
        try:
            provided = list(cast("Iterable[object]", impl.function()))
        except Exception as exc:
            raise RubricError(f"plugin '{plugin_name}': supervise_rubrics() raised {exc!r}") from exc
        for rubric in provided:
            if not isinstance(rubric, Rubric):
                raise RubricError(f"plugin '{plugin_name}': supervise_rubrics() returned {type(rubric).__name__}")
            ident = (rubric.key, rubric.version)
            if ident in registry.rubrics:
                other = registry.owners[ident]
                raise RubricError(
                    f"plugin '{plugin_name}': rubric {rubric.key} {rubric.version} is also provided by '{other}'"
                )
            faults = validate_rubric(rubric)
            if faults:
                listed = "; ".join(faults)
                raise RubricError(f"plugin '{plugin_name}': rubric {rubric.key} {rubric.version} is invalid: {listed}")
            registry.rubrics[ident] = rubric
            registry.owners[ident] = plugin_name
    for name, plugin in manager.list_name_plugin():
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()))
        dist_name, version = dists.get(name, (name, "unknown"))
        provided_ids = tuple(sorted(ident for ident, owner in registry.owners.items() if owner == name))
        registry.plugins.append(PluginInfo(name, dist_name, version, hooks, provided_ids))
    registry.plugins.sort(key=lambda p: p.name)
    return registry


def validate_rubric(rubric: Rubric) -> list[str]:
    """Everything wrong with a rubric's declaration, scoring included; empty when it is usable."""
    faults: list[str] = []
    if not _KEY.match(rubric.key):
        faults.append(f"key '{rubric.key}' must be lower-case letters, digits and dashes")
    if not _VERSION.match(rubric.version):
        faults.append(f"version '{rubric.version}' must be letters, digits, dots or dashes")
    if not rubric.rater_roles or not set(rubric.rater_roles) <= _ROLES:
        faults.append(f"rater_roles must be a non-empty subset of {sorted(_ROLES)}")
    if not rubric.items:
        faults.append("it has no items")
    if rubric.unit == "segment" and not any(i.level == "segment" for i in rubric.items):
        faults.append("a segment rubric needs segment-level items")
    seen: set[str] = set()
    for item in rubric.items:
        where = f"item '{item.key}'"
        if not _ITEM.match(item.key):
            faults.append(f"{where}: keys are lower-case letters, digits and underscores")
        if item.key in seen:
            faults.append(f"{where} is declared twice")
        seen.add(item.key)
        if item.level == "segment" and rubric.unit != "segment":
            faults.append(f"{where} is rated per segment but the rubric is rated per session")
        if item.reverse and not isinstance(item.scale, OrdinalScale):
            faults.append(f"{where}: only ordinal items can be reverse keyed")
        faults += [f"{where}: {fault}" for fault in _scale_faults(item.scale)]
    subscale_keys = {s.key for s in rubric.subscales}
    for subscale in rubric.subscales:
        for key in subscale.items:
            member = rubric.item(key)
            if member is None:
                faults.append(f"subscale '{subscale.key}' names an unknown item '{key}'")
            elif member.level != "session" or not isinstance(member.scale, OrdinalScale):
                faults.append(f"subscale '{subscale.key}': item '{key}' must be a session-level ordinal item")
        if not subscale.items:
            faults.append(f"subscale '{subscale.key}' has no items")
    for item in rubric.items:
        if item.subscale is not None and item.subscale not in subscale_keys:
            faults.append(f"item '{item.key}' names an unknown subscale '{item.subscale}'")
        elif item.subscale is not None and not any(
            s.key == item.subscale and item.key in s.items for s in rubric.subscales
        ):
            faults.append(f"item '{item.key}' names subscale '{item.subscale}', which does not list it")
    score_keys = [spec.key for spec in rubric.score_specs()]
    if len(set(score_keys)) != len(score_keys):
        faults.append(f"score keys are not unique: {score_keys}")
    threshold_keys = [t.key for t in rubric.thresholds]
    if len(set(threshold_keys)) != len(threshold_keys):
        faults.append("threshold keys are not unique")
    for threshold in rubric.thresholds:
        target_item = rubric.item(threshold.target)
        if threshold.target != "*" and threshold.target not in score_keys and target_item is None:
            faults.append(f"threshold '{threshold.key}' targets unknown '{threshold.target}'")
        elif target_item is not None and target_item.level != "session":
            faults.append(f"threshold '{threshold.key}' targets segment item '{threshold.target}': target a score")
        if not threshold.source.strip():
            faults.append(f"threshold '{threshold.key}' must name its source")
    rule_keys = [r.key for r in rubric.change_rules]
    if len(set(rule_keys)) != len(rule_keys) or set(rule_keys) & set(threshold_keys):
        faults.append("change rule keys must be unique, and differ from the threshold keys")
    for rule in rubric.change_rules:
        target_item = rubric.item(rule.target)
        if rule.target not in score_keys and (target_item is None or target_item.level != "session"):
            faults.append(f"change rule '{rule.key}' targets '{rule.target}': name a score or a session-level item")
        if (rule.drop_at_least is None) == (rule.drop_share_over is None):
            faults.append(f"change rule '{rule.key}' needs exactly one of drop_at_least and drop_share_over")
        elif rule.drop_at_least is not None and not rule.drop_at_least > 0:
            faults.append(f"change rule '{rule.key}': drop_at_least must be above 0")
        elif rule.drop_share_over is not None:
            if not 0 < rule.drop_share_over < 1:
                faults.append(f"change rule '{rule.key}': drop_share_over must be between 0 and 1")
            elif rubric.span(rule.target) is None:
                faults.append(f"change rule '{rule.key}': '{rule.target}' has no bounded range to take a share of")
        if not rule.source.strip():
            faults.append(f"change rule '{rule.key}' must name its source")
    if faults:
        return faults
    try:
        result = rubric.run_scoring(neutral_responses(rubric))
    except Exception as exc:
        return [f"scoring a neutral response raised {exc!r}"]
    return [f"scoring a neutral response: {fault}" for fault in check_result(rubric, result)]


def _scale_faults(scale: OrdinalScale | CountScale | BooleanScale) -> list[str]:
    if isinstance(scale, OrdinalScale):
        faults = []
        if not (math.isfinite(scale.min) and math.isfinite(scale.max) and scale.min < scale.max):
            return ["an ordinal scale needs finite min < max"]
        steps = (scale.max - scale.min) / scale.step if scale.step > 0 else math.nan
        if not math.isfinite(steps) or abs(steps - round(steps)) > 1e-9:
            faults.append("step must be positive and divide max - min")
        for point in ([scale.start] if scale.start is not None else []) + [a.value for a in scale.anchors]:
            if not scale.min <= point <= scale.max:
                faults.append(f"{point} lies outside {scale.min}..{scale.max}")
        return faults
    if isinstance(scale, CountScale) and scale.max is not None and scale.max < 0:
        return ["a count's max cannot be negative"]
    return []


def _neutral_value(scale: OrdinalScale | CountScale | BooleanScale) -> Value:
    if isinstance(scale, BooleanScale):
        return False
    if isinstance(scale, CountScale):
        return 0
    if scale.start is not None:
        return scale.start
    steps = round((scale.max - scale.min) / scale.step / 2)
    return scale.min + steps * scale.step


def neutral_responses(rubric: Rubric) -> Responses:
    """Every item at its starting point (or the middle of its scale), counts 0, markers absent."""
    session = {i.key: _neutral_value(i.scale) for i in rubric.items if i.level == "session"}
    segments: tuple[SegmentResponses, ...] = ()
    if rubric.unit == "segment":
        values = {i.key: _neutral_value(i.scale) for i in rubric.items if i.level == "segment"}
        segments = (SegmentResponses(start_ms=0, end_ms=rubric.segment_ms or 300_000, items=values),)
    return Responses(items=session, segments=segments)


def check_result(rubric: Rubric, result: object) -> list[str]:
    """What is wrong with a scoring result: wrong type, missing or undeclared scores, values out of the
    declared ranges, flags naming thresholds that do not exist."""
    if not isinstance(result, Result):
        return [f"returned {type(result).__name__}, not Result"]
    faults = []
    specs = {spec.key: spec for spec in rubric.score_specs()}
    if set(result.scores) != set(specs):
        faults.append(f"scores {sorted(result.scores)} differ from the declared {sorted(specs)}")
    for key, value in result.scores.items():
        spec = specs.get(key)
        if value is None or spec is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            faults.append(f"score '{key}' is {value!r}, not a finite number or null")
        elif (spec.min is not None and value < spec.min - 1e-9) or (spec.max is not None and value > spec.max + 1e-9):
            faults.append(f"score '{key}' = {value} lies outside {spec.min}..{spec.max}")
    for key in result.not_applicable:
        item = rubric.item(key)
        if item is None or item.level != "session":
            faults.append(f"not_applicable names '{key}', which is no session-level item")
    thresholds = {t.key for t in rubric.thresholds}
    for flag in result.flags:
        if flag.threshold is not None and flag.threshold not in thresholds:
            faults.append(f"flag '{flag.code}' names an unknown threshold '{flag.threshold}'")
    return faults
