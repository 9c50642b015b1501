"""The fixed responses ``supervise.testing.check_rubric`` tries first: where scoring code breaks.

Random responses reach the corners of a rubric by luck (every item at its maximum, a count at its cap, a
total exactly at a cut-off, seven segments); these cases reach them every time. Each is ``(name, responses,
complete)``: ``complete`` responses are what a submission may carry, the others what a draft may
(``/score?partial=true``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

from supervise.rubrics.model import (
    COUNT_LIMIT,
    BooleanScale,
    CountScale,
    Item,
    OrdinalScale,
    Responses,
    Rubric,
    SegmentResponses,
    Value,
    standard_scoring,
)
from supervise.rubrics.registry import neutral_responses

__all__ = ["SEGMENT_COUNTS", "EdgeCase", "edge_cases"]

EdgeCase = tuple[str, Responses, bool]
"""A case's name (it appears in check_rubric's message), the responses, and whether they are complete."""

SEGMENT_COUNTS = (0, 1, 2, 7, 12, 40)
"""How many segments the cases of a segment rubric have: none (a draft), one, and many."""

Pick = Callable[[Item], Value | None]
"""An item's answer in a case, ``None`` for unanswered."""


def edge_cases(rubric: Rubric) -> Iterator[EdgeCase]:
    """Extremes, segment counts, counts at 0 and at their cap, item thresholds at and beside their cuts, a
    staircase through every subscale's and the total's cuts, then drafts."""
    yield from _extremes(rubric)
    yield from _counts(rubric)
    yield from _item_cuts(rubric)
    yield from _staircase(rubric)
    yield from _drafts(rubric)


def _grid(item: Item) -> tuple[float, float, float]:
    """The lowest and highest value as scored (keyed), and the step between."""
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return 0, 1, 1
    if isinstance(scale, CountScale):
        return 0, _cap(scale), 1
    return scale.min, scale.max, scale.step


def _cap(scale: CountScale) -> int:
    return scale.max if scale.max is not None else COUNT_LIMIT


def _raw(item: Item, keyed: float) -> Value:
    """The answer that is scored as ``keyed``."""
    scale = item.scale
    if isinstance(scale, BooleanScale):
        return keyed >= 0.5
    if isinstance(scale, CountScale):
        return round(keyed)
    value = round(float(scale.min + scale.max - keyed if item.reverse else keyed), 9)
    return int(value) if value.is_integer() and float(scale.step).is_integer() else value


def _lowest(item: Item) -> Value:
    scale = item.scale
    return _raw(item, scale.max if isinstance(scale, OrdinalScale) and item.reverse else _grid(item)[0])


def _highest(item: Item) -> Value:
    scale = item.scale
    return _raw(item, scale.min if isinstance(scale, OrdinalScale) and item.reverse else _grid(item)[1])


def _fmt(number: float) -> str:
    return f"{number:g}"


def _responses(
    rubric: Rubric, pick: Pick, segments: int = 1, per_segment: Callable[[int], Pick] | None = None
) -> Responses:
    """Session items answered by ``pick``; for segment rubrics, ``segments`` segments in time order whose
    items are answered by ``per_segment(n)`` (default ``pick``)."""

    def answers(level: str, choose: Pick) -> dict[str, Value]:
        return {i.key: v for i in rubric.items if i.level == level and (v := choose(i)) is not None}

    session = answers("session", pick)
    if rubric.unit == "session":
        return Responses(items=session)
    length = rubric.segment_ms or 300_000
    return Responses(
        items=session,
        segments=tuple(
            SegmentResponses(
                start_ms=n * length,
                end_ms=(n + 1) * length,
                items=answers("segment", (per_segment or (lambda _: pick))(n)),
            )
            for n in range(segments)
        ),
    )


def _neutral(rubric: Rubric) -> dict[str, Value]:
    """Every item's neutral answer (its start, or its middle; counts 0; markers absent)."""
    neutral = neutral_responses(rubric)
    return {**neutral.items, **(neutral.segments[0].items if neutral.segments else {})}


def _overriding(base: Mapping[str, Value], values: Mapping[str, Value]) -> Pick:
    return lambda item: values.get(item.key, base[item.key])


def _extremes(rubric: Rubric) -> Iterator[EdgeCase]:
    yield "all minimum", _responses(rubric, _lowest), True
    yield "all maximum", _responses(rubric, _highest), True
    if rubric.unit != "segment":
        return
    neutral = _overriding(_neutral(rubric), {})
    for count in SEGMENT_COUNTS:
        if count == 1:
            continue  # all minimum and all maximum have one segment
        segments = f"{count} segments"
        yield f"{segments} at minimum", _responses(rubric, _lowest, count), count > 0
        yield f"{segments} at maximum", _responses(rubric, _highest, count), count > 0
        if count > 1:
            alternating = _responses(rubric, neutral, count, lambda n: _lowest if n % 2 == 0 else _highest)
            yield f"{segments} alternating minimum and maximum", alternating, True


def _counts(rubric: Rubric) -> Iterator[EdgeCase]:
    counts = [i for i in rubric.items if isinstance(i.scale, CountScale)]
    if not counts:
        return
    neutral = _neutral(rubric)
    zero = {i.key: _lowest(i) for i in counts}
    cap = {i.key: _highest(i) for i in counts}
    yield "counts at 0", _responses(rubric, _overriding(neutral, zero)), True
    yield "counts at their cap", _responses(rubric, _overriding(neutral, cap)), True
    if len(counts) > 1:
        for item in counts:
            yield (
                f"'{item.key}' at its cap, other counts at 0",
                _responses(rubric, _overriding(neutral, {**zero, item.key: cap[item.key]})),
                True,
            )
            yield (
                f"'{item.key}' at 0, other counts at their cap",
                _responses(rubric, _overriding(neutral, {**cap, item.key: 0})),
                True,
            )


def _near(item: Item, cut: float, offset: int) -> Value | None:
    """The answer scored at ``cut`` (``offset`` 0), or the nearest one below (-1) or above (1); ``None`` when
    the scale has none."""
    low, high, step = _grid(item)
    at = (cut - low) / step
    if abs(at - round(at)) <= 1e-9:
        n = round(at) + offset
    elif offset == 0:
        return None
    else:
        n = math.floor(at) if offset < 0 else math.ceil(at)
    if not 0 <= n <= round((high - low) / step):
        return None
    return _raw(item, low + n * step)


def _item_cuts(rubric: Rubric) -> Iterator[EdgeCase]:
    """Thresholds on items (and on every item, ``*``): the item at its cut and the answers just beside it,
    every other item neutral."""
    neutral = _neutral(rubric)
    ordinal = [i for i in rubric.items if i.level == "session" and isinstance(i.scale, OrdinalScale)]
    for threshold in rubric.thresholds:
        item = rubric.item(threshold.target)
        items, label = (ordinal, "every item") if threshold.target == "*" else ([item], f"'{threshold.target}'")
        if item is None and threshold.target != "*":
            continue  # a threshold on a score: the staircase's
        for where, offset in (("just below", -1), ("at", 0), ("just above", 1)):
            values = {i.key: v for i in items if i is not None and (v := _near(i, threshold.value, offset)) is not None}
            if values:
                yield (
                    f"{label} {where} cut {_fmt(threshold.value)}",
                    _responses(rubric, _overriding(neutral, values)),
                    True,
                )


def _rungs(item: Item) -> list[float]:
    """The item's values as scored, lowest first (a count: 0, 1 and its cap)."""
    low, high, step = _grid(item)
    if isinstance(item.scale, CountScale):
        return sorted({low, min(1, high), high})
    return [low + n * step for n in range(round((high - low) / step) + 1)]


def _staircase(rubric: Rubric) -> Iterator[EdgeCase]:
    """From every session item at its lowest (as scored) to every one at its highest, one item one step at a
    time: each subscale and the total pass through every value they can take, so through every cut on them.
    The steps at a cut, and just below and above it, are named after it."""
    session = [i for i in rubric.items if i.level == "session"]
    if not session:
        return
    keyed = {i.key: _rungs(i)[0] for i in session}
    steps = [dict(keyed)]
    for item in session:
        for rung in _rungs(item)[1:]:
            keyed[item.key] = rung
            steps.append(dict(keyed))
    neutral = _neutral(rubric)
    stairs = [
        _responses(rubric, _overriding(neutral, {i.key: _raw(i, step[i.key]) for i in session})) for step in steps
    ]
    names = [f"staircase step {n} of {len(stairs) - 1}" for n in range(len(stairs))]
    scores = [standard_scoring(rubric, responses).scores for responses in stairs]
    for threshold in reversed(rubric.thresholds):  # where cuts share a step, the first threshold names it
        cut, target = threshold.value, threshold.target
        values = [s.get(target) for s in scores]
        of = f"cut {_fmt(cut)} of {target}"
        below = [n for n, v in enumerate(values) if v is not None and v < cut - 1e-9]
        above = [n for n, v in enumerate(values) if v is not None and v > cut + 1e-9]
        for n, v in enumerate(values):
            if v is not None and abs(v - cut) <= 1e-9:
                names[n] = f"staircase at {of}"
        if below:
            names[below[-1]] = f"staircase just below {of}"
        if above:
            names[above[0]] = f"staircase just above {of}"
    for name, responses in zip(names, stairs, strict=True):
        yield name, responses, True


def _drafts(rubric: Rubric) -> Iterator[EdgeCase]:
    """Partial responses, as a draft holds them: nothing at all, empty segments, one item alone."""
    yield "no items answered", Responses(), False
    length = rubric.segment_ms or 300_000
    if rubric.unit == "segment":
        empty = tuple(SegmentResponses(start_ms=n * length, end_ms=(n + 1) * length) for n in range(2))
        yield "segments with no items answered", Responses(segments=empty), False
    for item in rubric.items:
        if item.level == "session":
            yield f"only '{item.key}' answered", Responses(items={item.key: _highest(item)}), False
        else:
            segment = SegmentResponses(start_ms=0, end_ms=length, items={item.key: _highest(item)})
            yield f"only '{item.key}' answered, in one segment", Responses(segments=(segment,)), False
