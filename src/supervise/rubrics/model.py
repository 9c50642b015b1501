"""The public rubric model: data a plugin declares, plus one pure scoring function.

A :class:`Rubric` is an instrument at one version: its items and their scales, its subscales, the scores its
results carry, the thresholds that raise flags (each naming its source), and how responses become a
:class:`Result`. Most rubrics need no scoring code of their own: :func:`standard_scoring` computes subscale
and total scores (with reverse keying) and applies the thresholds. A rubric whose instrument has other
summary scores (ratios, counts) passes its own ``score`` function, usually calling :func:`standard_scoring`
first and adding to it. Everything but that function is plain data (:class:`RubricDefinition`): served over
HTTP, snapshotted the first time the rubric is used, and mappable onto a FHIR Questionnaire.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from supervise.rubrics.flags import ChangeRule, Flag, Severity, Threshold

__all__ = [
    "COUNT_LIMIT",
    "Anchor",
    "BooleanScale",
    "ChangeRule",
    "CountScale",
    "Flag",
    "Item",
    "OrdinalScale",
    "RaterRole",
    "Responses",
    "Result",
    "Rubric",
    "RubricDefinition",
    "Scale",
    "ScoreSpec",
    "SegmentResponses",
    "Severity",
    "Subscale",
    "Threshold",
    "Unit",
    "Value",
    "apply_thresholds",
    "keyed",
    "responses_schema",
    "standard_scoring",
]

RaterRole = Literal["supervisor", "peer", "self", "client"]
"""Who may rate with a rubric: a supervisor, a peer, the therapist themselves, or the client."""
Unit = Literal["session", "segment"]
"""What one rating covers: the whole session, or time segments of the recording (rolled up per session)."""
Value = int | float | bool
"""A response to one item: a number on an ordinal scale, a count, or a yes/no."""


class Anchor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A labelled point of an ordinal scale (paraphrased: never an instrument's published wording)."""

    value: float
    label: str


class OrdinalScale(
    msgspec.Struct, frozen=True, kw_only=True, tag="ordinal", tag_field="kind", forbid_unknown_fields=True
):
    """Values from ``min`` to ``max`` in steps of ``step``; ``start`` is where raters begin, if the manual
    prescribes one (e.g. 4 = "no evidence" on the WAI observer form)."""

    min: float
    max: float
    step: float = 1
    start: float | None = None
    anchors: tuple[Anchor, ...] = ()


class CountScale(msgspec.Struct, frozen=True, kw_only=True, tag="count", tag_field="kind", forbid_unknown_fields=True):
    """A whole number of occurrences, 0 or more (e.g. MITI behaviour counts)."""

    max: int | None = None
    """At most this many; without one, at most :data:`COUNT_LIMIT`."""


COUNT_LIMIT = 1_000_000
"""The most occurrences a count without its own maximum accepts: far beyond any session, and small enough
that sums and ratios of counts stay exact and finite."""


class BooleanScale(
    msgspec.Struct, frozen=True, kw_only=True, tag="boolean", tag_field="kind", forbid_unknown_fields=True
):
    """Present or absent (e.g. a rupture marker seen in a segment)."""


Scale = OrdinalScale | CountScale | BooleanScale


class Item(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One thing a rater judges. ``key`` is stable forever (a FHIR ``linkId``)."""

    key: str
    label: str
    """A short paraphrased label."""
    help: str = ""
    """What to look for, in the plugin author's own words."""
    scale: Scale
    subscale: str | None = None
    reverse: bool = False
    """Reverse keyed: scored as ``min + max - value`` (ordinal scales only)."""
    level: Unit = "session"
    """``segment`` items are answered for every time segment; ``session`` items once per session."""
    required: bool = True
    """A review cannot be submitted without it (segment items: in every segment)."""


class Subscale(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: str
    label: str
    items: tuple[str, ...]
    aggregate: Literal["mean", "sum"] = "mean"


class ScoreSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A score a result may carry, with its range (``None`` for unbounded). Subscales and the total are
    declared automatically; a custom scoring function declares its extra scores here."""

    key: str
    label: str
    description: str = ""
    min: float | None = None
    max: float | None = None


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """What scoring computed: every declared score (``None`` where undefined, e.g. a ratio over zero), and
    the flags raised."""

    scores: dict[str, float | None]
    flags: tuple[Flag, ...] = ()
    not_applicable: tuple[str, ...] = ()
    """Session items whose answers carry no information in these responses (3RS's resolution, when no rupture
    was coded): the host files no score for them, so they stay out of series and reliability."""


class SegmentResponses(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    start_ms: int
    end_ms: int
    items: dict[str, Value] = msgspec.field(default_factory=dict)


class Responses(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rater's answers: session-level items, and per-segment items for segment rubrics."""

    items: dict[str, Value] = msgspec.field(default_factory=dict)
    segments: tuple[SegmentResponses, ...] = ()


class RubricDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about a rubric except its scoring code: served, snapshotted and checksummed."""

    key: str
    version: str
    title: str
    description: str
    citation: str
    licence: str
    manual_version: str
    rater_roles: tuple[RaterRole, ...]
    unit: Unit
    segment_ms: int | None
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...]
    total: Literal["mean", "sum"] | None
    scores: tuple[ScoreSpec, ...]
    thresholds: tuple[Threshold, ...]
    change_rules: tuple[ChangeRule, ...] = ()
    """Rules across a case's sessions (:class:`ChangeRule`)."""
    caveats: tuple[str, ...] = ()
    """What no primary source confirmed, for a front end to show; not checksummed: it changes no score."""


Scorer = Callable[["Rubric", Responses], Result]


@dataclass(frozen=True, kw_only=True)
class Rubric:
    """An instrument at one version. ``(key, version)`` is immutable once a review has used it."""

    key: str
    """Lower-case identifier, e.g. ``wai-o-s``."""
    version: str
    """The rubric's own version, e.g. ``1.0``; change it whenever items, scales or scoring change."""
    title: str
    description: str
    citation: str
    licence: str
    """What may be shipped and how (e.g. "structure only; item wording is copyrighted")."""
    manual_version: str
    rater_roles: tuple[RaterRole, ...]
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...] = ()
    total: Literal["mean", "sum"] | None = "mean"
    """How the ``total`` score combines the session-level ordinal items; ``None`` for no total."""
    unit: Unit = "session"
    segment_ms: int | None = None
    """Segment length the manual prescribes (segment rubrics); raters may use other lengths."""
    scores: tuple[ScoreSpec, ...] = ()
    """Extra scores a custom ``score`` function adds to the subscales and total."""
    thresholds: tuple[Threshold, ...] = ()
    change_rules: tuple[ChangeRule, ...] = ()
    """Rules across sessions of one case, evaluated when a rating is stored (:class:`ChangeRule`)."""
    caveats: tuple[str, ...] = ()
    """What no primary source confirmed (e.g. which items are reverse keyed): served, not checksummed."""
    score: Scorer | None = field(default=None, compare=False)
    """Pure function from responses to a result; ``None`` means :func:`standard_scoring`."""

    def item(self, key: str) -> Item | None:
        return next((item for item in self.items if item.key == key), None)

    def score_specs(self) -> tuple[ScoreSpec, ...]:
        """Every score a result carries: subscales, the total, then the declared extras."""
        specs = [
            ScoreSpec(key=s.key, label=s.label, min=lo, max=hi) for s in self.subscales for lo, hi in [_range(self, s)]
        ]
        if self.total is not None:
            lo, hi = _total_range(self)
            specs.append(ScoreSpec(key="total", label="Total", min=lo, max=hi))
        return (*specs, *self.scores)

    def definition(self) -> RubricDefinition:
        return RubricDefinition(
            key=self.key,
            version=self.version,
            title=self.title,
            description=self.description,
            citation=self.citation,
            licence=self.licence,
            manual_version=self.manual_version,
            rater_roles=self.rater_roles,
            unit=self.unit,
            segment_ms=self.segment_ms,
            items=self.items,
            subscales=self.subscales,
            total=self.total,
            scores=self.score_specs(),
            thresholds=self.thresholds,
            change_rules=self.change_rules,
            caveats=self.caveats,
        )

    def span(self, target: str) -> float | None:
        """The width of ``target``'s declared range (a score's or a session item's); ``None`` if unbounded."""
        spec = next((spec for spec in self.score_specs() if spec.key == target), None)
        if spec is not None:
            return None if spec.min is None or spec.max is None else spec.max - spec.min
        item = self.item(target)
        if item is not None and isinstance(item.scale, OrdinalScale):
            return float(item.scale.max - item.scale.min)
        return None

    def checksum(self) -> str:
        return definition_checksum(self.definition())

    def run_scoring(self, responses: Responses) -> Result:
        return (self.score or standard_scoring)(self, responses)

    def validate(self, responses: Responses, *, complete: bool) -> list[tuple[str, str]]:
        """Problems with ``responses`` as ``(field, message)`` pairs; empty when valid. ``complete`` also
        requires every required item (a draft may be partial; a submission may not)."""
        problems: list[tuple[str, str]] = []
        by_key = {item.key: item for item in self.items}

        def check(values: Mapping[str, Value], level: Unit, prefix: str) -> None:
            for key, value in values.items():
                item = by_key.get(key)
                if item is None:
                    problems.append((f"{prefix}{key}", f"{self.key} {self.version} has no item '{key}'"))
                elif item.level != level:
                    problems.append((f"{prefix}{key}", f"'{key}' is rated per {item.level}, not per {level}"))
                elif message := _check_value(item.scale, value):
                    problems.append((f"{prefix}{key}", message))
            if complete:
                for item in self.items:
                    if item.level == level and item.required and item.key not in values:
                        problems.append((f"{prefix}{item.key}", "required"))

        check(responses.items, "session", "items.")
        if self.unit == "session" and responses.segments:
            problems.append(("segments", f"{self.key} is rated per session, not per segment"))
        previous_end = -1
        for index, segment in enumerate(responses.segments):
            where = f"segments[{index}]"
            if segment.start_ms < 0 or segment.end_ms <= segment.start_ms:
                problems.append((where, "needs 0 <= start_ms < end_ms"))
            elif segment.start_ms < previous_end:
                problems.append((where, "segments must be in time order and must not overlap"))
            previous_end = max(previous_end, segment.end_ms)
            check(segment.items, "segment", f"{where}.items.")
        if complete and self.unit == "segment" and not responses.segments:
            problems.append(("segments", "at least one segment is required"))
        return problems

    def responses_schema(self) -> dict[str, Any]:
        """JSON Schema of the responses this rubric accepts (a complete submission)."""
        return responses_schema(self.unit, self.items)


def responses_schema(unit: Unit, items: tuple[Item, ...]) -> dict[str, Any]:
    """JSON Schema of a complete set of responses to these items."""

    def properties(level: Unit) -> dict[str, Any]:
        return {item.key: _value_schema(item) for item in items if item.level == level}

    def required(level: Unit) -> list[str]:
        return [item.key for item in items if item.level == level and item.required]

    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": properties("session"),
                "required": required("session"),
            }
        },
    }
    if unit == "segment":
        schema["properties"]["segments"] = {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["start_ms", "end_ms", "items"],
                "properties": {
                    "start_ms": {"type": "integer", "minimum": 0},
                    "end_ms": {"type": "integer", "minimum": 1},
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": properties("segment"),
                        "required": required("segment"),
                    },
                },
            },
        }
        schema["required"] = ["segments"]
    return schema


def definition_checksum(definition: RubricDefinition) -> str:
    """SHA-256 of the definition's JSON, keys sorted, without its caveats. A definition without change rules
    is hashed without the field, as every definition was before it existed: their snapshots still match."""
    encoded: dict[str, Any] = msgspec.to_builtins(definition)
    if not encoded["change_rules"]:
        del encoded["change_rules"]
    del encoded["caveats"]  # documentation: a caveat added or corrected changes no score
    return hashlib.sha256(msgspec.json.encode(encoded, order="sorted")).hexdigest()


def _check_value(scale: Scale, value: Value) -> str | None:
    if isinstance(scale, BooleanScale):
        return None if isinstance(value, bool) else "expected true or false"
    # Compared before any conversion: an integer beyond the float range must be refused, not overflow.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "expected a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "expected a number"
    if isinstance(scale, CountScale):
        limit = scale.max if scale.max is not None else COUNT_LIMIT
        if value < 0 or not float(min(value, limit + 1)).is_integer():
            return "expected a whole number of 0 or more"
        if value > limit:
            return f"expected at most {limit}"
        return None
    if not scale.min <= value <= scale.max:
        return f"expected a value from {_fmt(scale.min)} to {_fmt(scale.max)}"
    steps = (value - scale.min) / scale.step
    if abs(steps - round(steps)) > 1e-9:
        return f"expected a value from {_fmt(scale.min)} to {_fmt(scale.max)} in steps of {_fmt(scale.step)}"
    return None


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _value_schema(item: Item) -> dict[str, Any]:
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return {"type": "boolean", "title": item.label}
    if isinstance(scale, CountScale):
        maximum = scale.max if scale.max is not None else COUNT_LIMIT
        return {"type": "integer", "minimum": 0, "maximum": maximum, "title": item.label}
    return {"type": "number", "minimum": scale.min, "maximum": scale.max, "multipleOf": scale.step, "title": item.label}


def _ordinal(item: Item) -> OrdinalScale | None:
    return item.scale if isinstance(item.scale, OrdinalScale) else None


def _span(scales: list[OrdinalScale], how: Literal["mean", "sum"]) -> tuple[float | None, float | None]:
    if not scales:
        return None, None
    if how == "sum":
        return sum(s.min for s in scales), sum(s.max for s in scales)
    return min(s.min for s in scales), max(s.max for s in scales)


def _range(rubric: Rubric, subscale: Subscale) -> tuple[float | None, float | None]:
    scales = [s for key in subscale.items if (i := rubric.item(key)) and (s := _ordinal(i))]
    if len(scales) != len(subscale.items):
        return None, None
    return _span(scales, subscale.aggregate)


def _total_items(rubric: Rubric) -> list[Item]:
    return [i for i in rubric.items if i.level == "session" and isinstance(i.scale, OrdinalScale)]


def _total_range(rubric: Rubric) -> tuple[float | None, float | None]:
    return _span([s for i in _total_items(rubric) if (s := _ordinal(i))], rubric.total or "mean")


def keyed(item: Item, value: Value) -> float:
    """The value as scored: reverse-keyed ordinal items count ``min + max - value``."""
    scale = item.scale
    if item.reverse and isinstance(scale, OrdinalScale):
        return scale.min + scale.max - float(value)
    return float(value)


_OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def apply_thresholds(rubric: Rubric, responses: Responses, scores: Mapping[str, float | None]) -> tuple[Flag, ...]:
    """Flags for every threshold whose condition holds (undefined scores raise nothing)."""
    flags = []
    for threshold in rubric.thresholds:
        compare = _OPS[threshold.op]
        if threshold.target == "*":
            values = [
                keyed(item, responses.items[item.key]) for item in _total_items(rubric) if item.key in responses.items
            ]
            hit = any(compare(v, threshold.value) for v in values)
        elif threshold.target in scores:
            value = scores[threshold.target]
            hit = value is not None and compare(value, threshold.value)
        elif (item := rubric.item(threshold.target)) is not None and item.key in responses.items:
            hit = compare(keyed(item, responses.items[item.key]), threshold.value)
        else:
            hit = False
        if hit:
            flags.append(
                Flag(
                    code=threshold.key, severity=threshold.severity, message=threshold.message, threshold=threshold.key
                )
            )
    return tuple(flags)


def _combine(values: list[float], how: Literal["mean", "sum"]) -> float | None:
    if not values:
        return None
    # Rounded away from binary noise: 8.6 + 9.7 + 9.9 + 7.8 must be 36, not 35.99999999999999, at a cut-off.
    return round(math.fsum(values) if how == "sum" else math.fsum(values) / len(values), 9)


def standard_scoring(rubric: Rubric, responses: Responses, extra: Mapping[str, float | None] | None = None) -> Result:
    """Subscales and total from session-level ordinal items (reverse keying applied; missing optional items
    left out; ``None`` when nothing is there to combine), then ``extra`` (the declared extra scores a custom
    scorer computed; any not given are ``None``), then the thresholds over all of them. A custom scorer
    computes its extras and returns ``standard_scoring(rubric, responses, extra={...})``."""
    declared = {spec.key for spec in rubric.scores}
    if undeclared := set(extra or {}) - declared:
        raise ValueError(f"extra scores {sorted(undeclared)} are not declared in the rubric's scores")
    scores: dict[str, float | None] = {}
    for subscale in rubric.subscales:
        values = [
            keyed(item, responses.items[key])
            for key in subscale.items
            if (item := rubric.item(key)) is not None and key in responses.items and _ordinal(item)
        ]
        scores[subscale.key] = _combine(values, subscale.aggregate)
    if rubric.total is not None:
        values = [keyed(i, responses.items[i.key]) for i in _total_items(rubric) if i.key in responses.items]
        scores["total"] = _combine(values, rubric.total)
    for spec in rubric.scores:
        scores[spec.key] = (extra or {}).get(spec.key)
    return Result(scores=scores, flags=apply_thresholds(rubric, responses, scores))
